"""Growth: what ingest, a rebuild and a replay cost per event at 1x, 10x and 100x the data.

One PostgreSQL store is grown in steps to 10,000, 100,000 and 1,000,000 events (quick: a
tenth), fast, by the application's own batch save (benchmarks/rebuild.py's `generate`
and benchmarks/replay.py's `fill`, not the MQTT path): heartbeats of a thousand devices
(quick: a hundred), a tenth of the events those of one device, `bench-00000`, whose
record is read. At each size, on that same store, one after the other:

- rebuild: every view rebuilt into a fresh database (`Projector.rebuild`);
- replay: the device's record read whole (`incident_record`: events, state after each,
  seals and Merkle leaves checked), median of three;
- ingest: a burst of 10,000 heartbeats from the thousand devices (quick: 2,000 from a
  hundred) through `lonewatch serve` and the run's own Mosquitto (benchmarks/growth_ingest.py),
  the wall clock until every one is stored, the service's CPU (every thread) until the
  views and the Merkle log have followed them too;
- reference: the store's own batch save of a burst of the same size, straight after.

Before the clocks run at a size, the store's views and Merkle log are caught up (what the
service's start-up and its Merkle worker would do) so the record reads a store as the
service leaves it. The table (benchmarks/growth_table.py) gives wall and CPU µs per event
and whether each stays flat as the data grows; the load average frames every row.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import growth_pg
from benchmarks.common import Figure, Result, own_database, own_mosquitto, write_directory
from benchmarks.growth_ingest import Progress, burst, service_on, settle
from benchmarks.growth_pg import analyse
from benchmarks.growth_table import Row, Timed, table, verdicts
from benchmarks.rebuild import generate, rebuild_into
from benchmarks.replay import fill
from service.adapters.directory_file import load_directory
from service.bootstrap import build
from service.config import Settings
from service.container import Container
from service.records.replay import incident_record

SCALES = (1, 10, 100)
REPEATS = 3
SUBJECT = "bench-00000"
SUBJECT_SHARE = 10
"""One event in this many is the subject device's (interleaved with nine others')."""


def grow(container: Container, total: int, devices: int, held: int) -> int:
    """Grow the store to `total` events, a tenth of them the subject's; returns the
    subject's heartbeats held now. Then the views and the Merkle log are caught up."""
    subject = max(held, total // SUBJECT_SHARE)
    fill(container, SUBJECT, subject - held, since=held)  # as many others' interleaved
    generate(container.app, total, devices)
    container.projector.catch_up_at_start()
    if container.merkle is not None:
        container.merkle.catch_up()
    return subject


def ingest(
    url: str, mqtt_port: int, progress: Progress, log: Path, *, events: int, devices: int, run: str
) -> tuple[Timed, float, dict[str, Any]]:
    """A burst through `lonewatch serve` on the store, with PostgreSQL's side of it."""
    with service_on(url, mqtt_port, log) as service:
        idle = settle(service, progress)
        before = growth_pg.sample(url)
        timed, followed, seen = burst(
            service, mqtt_port, progress, events=events, devices=devices, run=run
        )
        after = growth_pg.settled_sample(url)
    return (
        timed,
        followed,
        seen
        | {"idle_cpu_per_s": round(idle, 3)}
        | growth_pg.difference(before, after, timed.events),
    )


def head(container: Container) -> int:
    return container.app.recorder.max_notification_id() or 0


def rebuild(container: Container) -> Timed:
    with own_database("growth_views") as views_url:
        seconds, cpu, reached, _ = rebuild_into(container.app, views_url)
    return Timed(reached, seconds, cpu)


def replay(container: Container) -> Timed:
    walls, cpus, rows = [], [], 0
    for _ in range(REPEATS):
        t0, cpu0 = time.perf_counter(), time.process_time()
        record = incident_record(
            container.app, container.views, f"device:{SUBJECT}", merkle=container.merkle
        )
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
        rows = len(record["events"])
        del record
    return Timed(rows, statistics.median(walls), statistics.median(cpus))


def reference(container: Container, events: int, devices: int) -> Timed:
    """The store's own batch save of `events` heartbeats (no broker, gateway or views)."""
    before = head(container)
    t0, cpu0 = time.perf_counter(), time.process_time()
    generate(container.app, before + events, devices)
    return Timed(head(container) - before, time.perf_counter() - t0, time.process_time() - cpu0)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    base = 1_000 if quick else 10_000
    devices = base // 10
    burst_events = 2_000 if quick else 10_000
    rows: list[Row] = []
    details: dict[str, Any] = {}
    with (
        own_database("growth") as url,
        own_mosquitto() as mqtt_port,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        container = build(Settings(database_url=url, mqtt_url="mqtt://127.0.0.1:1"))
        merkle = container.merkle
        progress = Progress(
            head=lambda: head(container),
            views=container.projector.position,
            merkle=(lambda: merkle.size()[1]) if merkle is not None else (lambda: 1 << 62),
        )
        try:
            directory = write_directory(Path(tmp) / "d.yaml", devices=devices)
            container.app.import_directory(load_directory(directory))
            held = 0
            for scale in SCALES:
                t_grow = time.perf_counter()
                held = grow(container, base * scale, devices, held)
                store = head(container)
                print(
                    f"   {scale}x: {store:,} events ({time.perf_counter() - t_grow:.0f} s to grow), "
                    f"{time.strftime('%H:%M:%SZ', time.gmtime())}, load {load()}",
                    flush=True,
                )
                start_load = load()
                as_grown, _, seen_as_grown = ingest(
                    url,
                    mqtt_port,
                    progress,
                    Path(tmp) / f"service-{scale}x-a.log",
                    events=burst_events,
                    devices=devices,
                    run=f"growth{scale}x-a",
                )
                print(
                    f"   {scale}x ingest, as grown: {as_grown.wall_us:.1f} ({as_grown.cpu_us:.1f}) µs/event"
                )
                analysed_in = analyse(url)
                rebuilt = rebuild(container)
                print(f"   {scale}x rebuild: {rebuilt.wall_us:.1f} ({rebuilt.cpu_us:.1f}) µs/event")
                replayed = replay(container)
                print(f"   {scale}x replay: {replayed.wall_us:.1f} µs/event, {replayed.events:,}")
                ingested, followed, seen = ingest(
                    url,
                    mqtt_port,
                    progress,
                    Path(tmp) / f"service-{scale}x.log",
                    events=burst_events,
                    devices=devices,
                    run=f"growth{scale}x",
                )
                print(
                    f"   {scale}x ingest: {ingested.wall_us:.1f} ({ingested.cpu_us:.1f}) µs/event"
                )
                before = growth_pg.sample(url)
                raw = reference(container, burst_events, devices)
                raw_pg = growth_pg.difference(before, growth_pg.settled_sample(url), raw.events)
                row = Row(
                    scale,
                    store,
                    rebuilt,
                    replayed,
                    ingested,
                    raw,
                    (start_load, load()),
                    followed,
                    as_grown,
                )
                rows.append(row)
                details[f"{scale}x"] = {
                    "row": asdict(row),
                    "burst": seen,
                    "burst_as_grown": seen_as_grown,
                    "reference_postgres": raw_pg,
                    "vacuum_analyse_s": round(analysed_in, 1),
                    "subject_heartbeats": held,
                    "ended": time.strftime("%H:%M:%SZ", time.gmtime()),
                }
                print(table(rows), flush=True)
        finally:
            container.close()
    return rows, details


def run(quick: bool) -> Result:
    result = Result("growth", quick)
    rows, details = measure(quick)
    print(table(rows))
    first = rows[0]
    for row in rows:
        result.add(
            Figure(
                f"ingest per event, {row.scale}x ({row.store:,} events), wall until stored",
                row.ingest.wall_us,
                "µs",
                reference=f"store's own insert {row.reference.wall_us:.1f} µs; "
                f"{row.ingest.wall_us / first.ingest.wall_us:.2f} of 1x",
            ),
            Figure(
                f"ingest per event, {row.scale}x, service CPU until followed",
                row.ingest.cpu_us,
                "µs",
                reference=f"store's own insert {row.reference.cpu_us:.1f} µs CPU; "
                f"{row.ingest.cpu_us / first.ingest.cpu_us:.2f} of 1x",
            ),
            Figure(
                f"rebuild per event, {row.scale}x",
                row.rebuild.wall_us,
                "µs",
                reference=f"{row.rebuild.wall_us / first.rebuild.wall_us:.2f} of 1x",
            ),
            Figure(
                f"replay per event, {row.scale}x ({row.replay.events:,}-event record)",
                row.replay.wall_us,
                "µs",
                reference=f"{row.replay.wall_us / first.replay.wall_us:.2f} of 1x",
            ),
        )
    result.details = details | {"verdicts": verdicts(rows), "table": table(rows)}
    return result
