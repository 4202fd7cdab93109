"""The growth table's arithmetic (benchmarks/growth_table.py), from given inputs.

Issue 12 asks for "cost per event flat or falling" at 1x, 10x and 100x the data: the
table is only as honest as its division and its verdict, so both are checked here on
figures made up for the purpose (no timing is asserted anywhere).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from benchmarks.growth_table import Row, Timed, per_event_us, series, table, verdict, verdicts


def row(scale: int, *, ingest_cpu: float, reference_cpu: float = 0.5) -> Row:
    """A size where every column counted 10,000 events, the ingest's CPU as given."""
    burst = 10_000
    return Row(
        scale=scale,
        store=10_000 * scale,
        rebuild=Timed(10_000 * scale, wall_s=0.4 * scale, cpu_s=0.2 * scale),
        replay=Timed(1_000 * scale, wall_s=0.05 * scale, cpu_s=0.04 * scale),
        ingest=Timed(burst, wall_s=4.0, cpu_s=ingest_cpu),
        reference=Timed(burst, wall_s=1.0, cpu_s=reference_cpu),
        load=(1.0, 2.5),
        followed_s=5.2,
    )


def test_per_event_is_seconds_over_events_in_microseconds() -> None:
    assert per_event_us(2.0, 10_000) == pytest.approx(200.0)
    assert Timed(4, wall_s=0.002, cpu_s=0.001).wall_us == pytest.approx(500.0)
    assert Timed(4, wall_s=0.002, cpu_s=0.001).cpu_us == pytest.approx(250.0)


def test_no_events_counted_is_an_infinite_cost_not_a_crash() -> None:
    assert math.isinf(per_event_us(1.0, 0))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([100.0, 100.0, 100.0], "flat"),
        ([100.0, 120.0, 110.0], "flat"),  # each step within a quarter
        ([100.0, 80.0, 70.0], "falling"),
        ([300.0, 100.0, 110.0], "falling"),  # a small rise after a big fall
        ([100.0, 100.0, 130.0], "rising"),  # the last step alone breaks it
        ([100.0, 124.0, 120.0], "flat"),  # a step just inside the tolerance
        ([100.0, 124.0, 154.0], "rising"),  # two such steps: +54 % is a rise
        ([100.0], "-"),
        ([100.0, math.inf], "-"),
        ([100.0, math.nan], "-"),
    ],
)
def test_verdict_from_the_smallest_size_up(values: list[float], expected: str) -> None:
    assert verdict(values) == expected


def test_series_follows_the_sizes_whatever_the_order_rows_came_in() -> None:
    rows = [row(100, ingest_cpu=3.0), row(1, ingest_cpu=1.0), row(10, ingest_cpu=2.0)]
    assert series(rows, "ingest", "cpu_us") == pytest.approx([100.0, 200.0, 300.0])
    # The rebuild and the record grew with the data at a steady cost: flat.
    assert series(rows, "rebuild", "wall_us") == pytest.approx([40.0, 40.0, 40.0])


def test_verdicts_judge_each_column_and_the_ingest_against_its_reference() -> None:
    rows = [
        row(1, ingest_cpu=2.0, reference_cpu=0.5),
        row(10, ingest_cpu=2.0, reference_cpu=0.5),
        # The service's CPU doubled at 100x, but so did the store's own insert.
        row(100, ingest_cpu=4.0, reference_cpu=1.0),
    ]
    found = verdicts(rows)
    assert found["rebuild wall"] == "flat"
    assert found["replay CPU"] == "flat"
    assert found["ingest CPU"] == "rising"
    assert found["reference CPU"] == "rising"
    assert found["ingest CPU / reference CPU"] == "flat"


def test_table_prints_each_size_with_wall_and_cpu_per_event_and_the_load() -> None:
    text = table([row(1, ingest_cpu=1.5), row(10, ingest_cpu=1.5)])
    lines = text.splitlines()
    assert lines[2] == (
        "| 1x | 10,000 | 40.0 (20.0) | 1,000 | 50.0 (40.0) | 10,000 | - | 400.0 (150.0) | 5.2 s "
        "| 100.0 (50.0) | 1.0-2.5 |"
    )
    assert lines[3].startswith("| 10x | 100,000 | 40.0 (20.0) | 10,000 |")
    assert "- ingest CPU: flat" in lines


def test_the_store_as_grown_is_judged_apart_when_every_size_has_it() -> None:
    rows = [
        replace(row(scale, ingest_cpu=2.0), ingest_as_grown=Timed(10_000, wall_s, 2.0))
        for scale, wall_s in ((1, 2.0), (10, 3.5), (100, 11.5))
    ]
    found = verdicts(rows)
    assert found["ingest as grown wall"] == "rising"
    assert found["ingest as grown CPU"] == "flat"
    assert found["ingest wall"] == "flat"
    assert "| 200.0 (200.0) | 400.0 (200.0) |" in table(rows).splitlines()[2]
    assert "ingest as grown wall" not in verdicts([row(1, ingest_cpu=2.0), row(10, ingest_cpu=2.0)])
