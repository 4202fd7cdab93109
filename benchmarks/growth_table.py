"""The growth table's arithmetic: figures per event at each size, and whether they stay flat.

Pure (no store, no clock), so tests/unit/test_growth_table.py can check it from given
inputs: what benchmarks/growth.py measures goes in as seconds and counts, the table and
the verdicts come out.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["falling", "flat", "rising", "-"]

TOLERANCE = 0.25
"""A step from one size to the next within ±25 % counts as flat: on the shared two cores
one figure moves by ±30 % between runs minutes apart (docs/performance.md)."""


def per_event_us(seconds: float, events: int) -> float:
    """Microseconds per event; infinite when nothing was counted (never a division error)."""
    return seconds / events * 1e6 if events > 0 else float("inf")


def verdict(values: Sequence[float], tolerance: float = TOLERANCE) -> Verdict:
    """How a cost per event moves as the data grows (values from the smallest size up).

    Rising if any step up, or the last against the first, grew by more than `tolerance`
    (two steps just inside it are still a rise); falling if none did and the last is
    below the first by more than `tolerance`; flat otherwise. '-' with fewer than
    two figures, or with one that is missing or infinite.
    """
    if len(values) < 2 or any(not 0 <= v < float("inf") for v in values):
        return "-"
    steps = [
        after / before if before else float("inf") for before, after in itertools.pairwise(values)
    ]
    if any(step > 1 + tolerance for step in steps) or values[-1] > values[0] * (1 + tolerance):
        return "rising"
    if values[-1] < values[0] * (1 - tolerance):
        return "falling"
    return "flat"


@dataclass(frozen=True)
class Timed:
    """One column at one size: wall and CPU seconds over `events` events."""

    events: int
    wall_s: float
    cpu_s: float

    @property
    def wall_us(self) -> float:
        return per_event_us(self.wall_s, self.events)

    @property
    def cpu_us(self) -> float:
        return per_event_us(self.cpu_s, self.events)


@dataclass(frozen=True)
class Row:
    """Everything measured at one size of the one grown store.

    `store` is the events in the store when the row began; `ingest` is the service's
    burst (wall until stored; its CPU from /proc, every thread, until the views and the
    Merkle log had followed, `followed_s` after the first publish; `ingest_as_grown` the
    same before the grown store was analysed), `reference` the store's own batch insert
    of a burst of the same size straight after it (this process's CPU); `rebuild` every view
    into a fresh database (this process's CPU); `replay` the subject's record read whole
    (median wall of a few reads; its CPU is this process's too). `load` is the 1-minute
    load average at the row's start and end.
    """

    scale: int
    store: int
    rebuild: Timed
    replay: Timed
    ingest: Timed
    reference: Timed
    load: tuple[float, float]
    followed_s: float = 0.0
    ingest_as_grown: Timed | None = None


COLUMNS = ("rebuild", "replay", "ingest", "reference")


def series(rows: Sequence[Row], column: str, figure: Literal["wall_us", "cpu_us"]) -> list[float]:
    """One column's per-event figure at each size, smallest first."""
    return [getattr(getattr(row, column), figure) for row in sorted(rows, key=lambda r: r.scale)]


def verdicts(rows: Sequence[Row]) -> dict[str, Verdict]:
    """Each column's verdict, on the wall clock and on the CPU, plus the ingest's cost
    relative to the reference at the same size (what the load cannot move much)."""
    found: dict[str, Verdict] = {}
    for column in COLUMNS:
        found[f"{column} wall"] = verdict(series(rows, column, "wall_us"))
        found[f"{column} CPU"] = verdict(series(rows, column, "cpu_us"))
    ordered = sorted(rows, key=lambda r: r.scale)
    grown = [row.ingest_as_grown for row in ordered]
    if all(timed is not None for timed in grown):
        found["ingest as grown wall"] = verdict([t.wall_us for t in grown if t is not None])
        found["ingest as grown CPU"] = verdict([t.cpu_us for t in grown if t is not None])
    found["ingest CPU / reference CPU"] = verdict(
        [row.ingest.cpu_us / row.reference.cpu_us for row in ordered]
    )
    return found


def _us(timed: Timed) -> str:
    return f"{timed.wall_us:,.1f} ({timed.cpu_us:,.1f})"


def table(rows: Sequence[Row]) -> str:
    """Markdown: a line per size, wall µs/event with CPU µs/event in brackets, then the verdicts."""
    lines = [
        "| data | events in the store | rebuild µs/event | record's events | replay µs/event "
        "| ingest burst | ingest µs/event, store as grown | ingest µs/event, service "
        "| views and Merkle log followed after "
        "| reference: store's insert µs/event | load average (start-end) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: r.scale):
        lines.append(
            f"| {row.scale}x | {row.store:,} | {_us(row.rebuild)} | {row.replay.events:,} | "
            f"{_us(row.replay)} | {row.ingest.events:,} | "
            f"{'-' if row.ingest_as_grown is None else _us(row.ingest_as_grown)} | "
            f"{_us(row.ingest)} | "
            f"{row.followed_s:.1f} s | {_us(row.reference)} | {row.load[0]:.1f}-{row.load[1]:.1f} |"
        )
    lines.append("")
    lines.append(
        "wall µs/event (CPU µs/event in brackets; the ingest's wall until stored, its CPU "
        "until followed). From the smallest size to the largest:"
    )
    lines += [f"- {name}: {found}" for name, found in verdicts(rows).items()]
    return "\n".join(lines)
