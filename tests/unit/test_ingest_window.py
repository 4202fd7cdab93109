"""The ingest benchmark's reading of what bounded the intake (benchmarks/ingest_window.py):
the bulk lane's groups from the service's /metrics text, and the figures over the
publishing window from the samples inside it."""

from __future__ import annotations

import pytest

from benchmarks.ingest_window import Tick, bulk_from_metrics, in_window

METRICS = """\
# HELP lonewatch_gateway_commit_seconds Time to record one group of device messages, by lane.
lonewatch_gateway_commit_seconds_bucket{lane="bulk",le="0.05"} 3.0
lonewatch_gateway_commit_seconds_count{lane="bulk"} 4.0
lonewatch_gateway_commit_seconds_sum{lane="bulk"} 0.2
lonewatch_gateway_commit_seconds_count{lane="alarm"} 9.0
lonewatch_gateway_commit_seconds_sum{lane="alarm"} 0.09
lonewatch_gateway_commit_batch_size_count{lane="bulk"} 4.0
lonewatch_gateway_commit_batch_size_sum{lane="bulk"} 2000.0
lonewatch_gateway_commit_batch_size_sum{lane="alarm"} 9.0
"""


def test_the_bulk_lanes_commits_are_read_from_the_metrics_and_no_other_lanes() -> None:
    assert bulk_from_metrics(METRICS) == (4.0, 2000.0, 0.2)
    assert bulk_from_metrics("") == (0.0, 0.0, 0.0)


def test_the_window_figures_come_from_the_first_and_last_samples_inside_it() -> None:
    ticks = [
        Tick(0.0, 0.0, 0.0, 0.0, 0, 0, 0.0, backlog=9_999),  # before the window: left out
        Tick(1.0, 10.0, 20.0, 1.0, 10, 5_000, 0.4, backlog=2_000),
        Tick(3.0, 13.0, 24.0, 2.0, 14, 7_000, 0.6, backlog=3_000),
        Tick(9.0, 99.0, 99.0, 9.0, 99, 99_000, 9.0, backlog=9_999),  # after: left out
    ]
    figures = in_window(ticks, 0.5, 5.0)
    assert figures["machine_idle_share"] == pytest.approx(0.25)  # 3 busy of 4 seconds
    assert figures["service_cores"] == pytest.approx(0.5)
    assert figures["bulk_group_mean"] == pytest.approx(500)
    assert figures["bulk_commit_ms_mean"] == pytest.approx(50)
    assert figures["bulk_commits_per_s"] == pytest.approx(2)
    assert figures["bulk_backlog_mean"] == pytest.approx(2_500)
    assert in_window(ticks, 0.5, 2.0) == {}  # one sample says nothing
