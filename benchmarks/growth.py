"""Growth: what a rebuild and a replay cost per event at 1x, 10x and 100x the data.

One event store per run is grown in steps (heartbeats of a tenth as many devices as
events at 1x, saved in big batches): at each size every view is rebuilt into a fresh database. A second store holds
one device's heartbeats interleaved with as many of other devices (benchmarks/replay.py),
grown the same way; at each size its record (`incident_record`: events, state after each,
seals and Merkle leaves) is read whole. The figure is the cost per event: flat or falling
as the data grows is the target. The rebuild's store holds 10,000 events at 1x (quick:
1,000); the record 1,000 events of a store of 2,000 (quick: 100 of 200).

Ingest is measured by benchmarks/ingest.py through the service. Its column here is
filled by `INGEST_US_PER_EVENT` (events in the store -> microseconds per event) when
a measurement at these sizes is given; "-" otherwise.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Figure, Result, own_database, write_directory
from benchmarks.rebuild import generate, rebuild_into
from benchmarks.replay import fill
from service.adapters.directory_file import load_directory
from service.adapters.event_store import eventsourcing_env
from service.application.lonewatch import Lonewatch
from service.bootstrap import build
from service.clock import FakeClock
from service.config import Settings
from service.records.replay import incident_record

SCALES = (1, 10, 100)
REPEATS = 3
INGEST_US_PER_EVENT: Callable[[int], float | None] = lambda events: None  # noqa: E731
"""The hook for the ingest figure at a given store size (benchmarks/ingest.py's own)."""


def _rebuilds(base: int, devices: int) -> dict[int, tuple[int, float, float]]:
    """Store size -> (events, wall µs per event, this process's CPU µs per event)."""
    found: dict[int, tuple[int, float, float]] = {}
    with own_database("growth_events") as url, tempfile.TemporaryDirectory() as tmp:
        app = Lonewatch(eventsourcing_env(url), FakeClock())
        try:
            directory = write_directory(Path(tmp) / "d.yaml", devices=devices)
            app.import_directory(load_directory(directory))
            for scale in SCALES:
                generate(app, base * scale, devices)
                with own_database("growth_views") as views_url:
                    seconds, cpu, reached, _ = rebuild_into(app, views_url)
                found[scale] = (reached, seconds / reached * 1e6, cpu / reached * 1e6)
        finally:
            app.close()
    return found


def _replays(base: int) -> dict[int, tuple[int, float]]:
    """Scale -> (events in the record, median µs per event of reading it whole); the
    store holds `base` events at 1x, half of them the record's."""
    found: dict[int, tuple[int, float]] = {}
    key = "bench-00000"
    with own_database("growth_replay") as url, tempfile.TemporaryDirectory() as tmp:
        container = build(Settings(database_url=url, mqtt_url="mqtt://127.0.0.1:1"))
        try:
            directory = write_directory(Path(tmp) / "d.yaml", devices=10)
            container.app.import_directory(load_directory(directory))
            held = 0
            for scale in SCALES:
                subject_events = base * scale // 2
                fill(container, key, subject_events - held, since=held)
                held = subject_events
                samples = []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    record = incident_record(
                        container.app, container.views, f"device:{key}", merkle=container.merkle
                    )
                    samples.append(time.perf_counter() - t0)
                rows = len(record["events"])
                found[scale] = (rows, statistics.median(samples) / rows * 1e6)
        finally:
            container.close()
    return found


def table(
    rebuilds: dict[int, tuple[int, float, float]], replays: dict[int, tuple[int, float]]
) -> str:
    lines = [
        "| data | events in the store | rebuild µs/event (CPU here) | record's events | "
        "replay µs/event | ingest µs/event |",
        "|---|---|---|---|---|---|",
    ]
    for scale in SCALES:
        events, wall, cpu = rebuilds[scale]
        rows, replay = replays[scale]
        ingest = INGEST_US_PER_EVENT(events)
        lines.append(
            f"| {scale}x | {events:,} | {wall:.1f} ({cpu:.1f}) | {rows:,} | {replay:.1f} | "
            f"{'-' if ingest is None else f'{ingest:.1f}'} |"
        )
    return "\n".join(lines)


def run(quick: bool) -> Result:
    base = 1_000 if quick else 10_000
    result = Result("growth", quick)
    # Ten heartbeats a device at 1x, so that even 1x is mostly heartbeats, not the directory.
    rebuilds = _rebuilds(base, devices=base // 10)
    replays = _replays(200 if quick else 2_000)
    print(table(rebuilds, replays))
    first_rebuild, first_replay = rebuilds[SCALES[0]][1], replays[SCALES[0]][1]
    for scale in SCALES:
        events, wall, _ = rebuilds[scale]
        rows, replay = replays[scale]
        result.add(
            Figure(
                f"rebuild per event, {scale}x ({events:,} events)",
                wall,
                "µs",
                reference=f"{wall / first_rebuild:.2f} of 1x",
            ),
            Figure(
                f"replay per event, {scale}x ({rows:,}-event record)",
                replay,
                "µs",
                reference=f"{replay / first_replay:.2f} of 1x",
            ),
        )
    result.details = {
        "rebuild": {str(k): v for k, v in rebuilds.items()},
        "replay": {str(k): v for k, v in replays.items()},
        "table": table(rebuilds, replays),
    }
    return result
