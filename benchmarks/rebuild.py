"""3. Rebuild: every projection rebuilt from 1,000,000 stored events on a fresh view store.

The events are made fast (DeviceMessage aggregates saved through the application in
big batches: heartbeats of 10,000 devices), then the clock runs only around
`Projector.rebuild` from position 0 into an empty PostgreSQL database.

Three ways, each into emptied views: start-up's old catch-up (batches of 1,000), the
rebuild with the cycle collector running, and start-up now (`catch_up_at_start`: the
rebuild with the collector paused).

Then a rebuild's parts, each timed alone (this process's CPU per event): reading the rows,
decoding them (projections/decoding.py), running the views, writing the batches.

Reference, measured in the same run: reading the whole log through the library
(`select_notifications`, pages of the rebuild's size) and decoding every event, with no
view run and nothing written: what a rebuild costs before it does any work of its own.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Result, own_database, write_directory
from projections.collector import collector_paused
from projections.decoding import RowDecoder
from projections.projector import REBUILD_BATCH, VIEW_NAME, Projector
from projections.store import open_view_store
from service.adapters.directory_file import load_directory
from service.adapters.event_rows import rows_after
from service.adapters.event_store import eventsourcing_env
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.domain.devices.messages import DeviceMessage

TARGET_RATE = 50_000.0
DEVICES = 10_000
SAVE_BATCH = 5_000


def generate(app: Lonewatch, total: int, devices: int) -> float:
    """Save heartbeats until the store holds `total` events; returns events/s of saving."""
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    head = app.recorder.max_notification_id() or 0
    t0 = time.perf_counter()
    made = 0
    while head + made < total:
        batch: list[DeviceMessage] = []
        for _ in range(min(SAVE_BATCH, total - head - made)):
            n = made + len(batch)
            device = n % devices
            batch.append(
                DeviceMessage(
                    device=f"bench-{device:05d}",
                    kind="heartbeat",
                    message_id=None,
                    device_ts=None,
                    fields={"battery": 90 - n % 50, "seq": n},
                    school="bench",
                    staff=f"st-{device % 100:04d}",
                    timestamp=start + timedelta(milliseconds=n),
                )
            )
        app.save(*batch)
        made += len(batch)
    return made / (time.perf_counter() - t0)


def read_and_decode(app: Lonewatch, batch: int = 10_000) -> float:
    """Events/s of reading the whole log through the library and decoding each event."""
    t0 = time.perf_counter()
    start, count = 0, 0
    while page := app.recorder.select_notifications(
        start=start, limit=batch, inclusive_of_start=False
    ):
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        start = page[-1].id
    return count / (time.perf_counter() - t0)


def parts(app: Lonewatch, views_url: str, batch: int = REBUILD_BATCH) -> dict[str, float]:
    """This process's CPU per event (µs) of each part of a rebuild, one after the other
    (not pipelined, so each is counted alone): reading the rows, decoding them, running
    the views, writing (documents' JSON, COPY, the commit) into emptied views."""
    views = open_view_store(views_url)
    spent = dict.fromkeys(("reading", "decoding", "views", "writing"), 0.0)
    try:
        views.reset(VIEW_NAME)
        projector = Projector(app.recorder, app.mapper, views)
        decode = RowDecoder(app.mapper)
        start = count = 0
        with collector_paused():
            while True:
                cpu = time.process_time()
                rows = rows_after(app.recorder, start, batch)
                if not rows:
                    break
                read = time.process_time()
                events = [(row[0], decode(row)) for row in rows]
                decoded = time.process_time()
                projected = projector._project_events(events, keep_changes=False)
                viewed = time.process_time()
                projector._commit(start, projected)
                written = time.process_time()
                for part, took in zip(
                    spent,
                    (read - cpu, decoded - read, viewed - decoded, written - viewed),
                    strict=True,
                ):
                    spent[part] += took
                start, count = projected.end, count + len(rows)
    finally:
        views.close()
    return {part: took / count * 1e6 for part, took in spent.items()}


WAYS: dict[str, Callable[[Projector], int]] = {
    # What the service's start-up did with dropped views: batches of 1,000, one at a time.
    "start-up before: catch_up": lambda p: (p.catch_up(), p.position())[1],
    "rebuild, collector running": lambda p: p.rebuild(pause_collector=False),
    # What start-up does now when far behind (Projector.catch_up_at_start).
    "start-up now: rebuild, collector paused": lambda p: (p.catch_up_at_start(), p.position())[1],
}


def rebuild_into(
    app: Lonewatch, views_url: str, way: Callable[[Projector], int] = Projector.rebuild
) -> tuple[float, float, int, Any]:
    """Rebuild every view from the store into the database at `views_url`, emptied first:
    (seconds, CPU seconds of this process, position reached, a device document)."""
    views = open_view_store(views_url)
    try:
        views.reset(VIEW_NAME)
        projector = Projector(app.recorder, app.mapper, views)
        t0, cpu0 = time.perf_counter(), time.process_time()
        reached = way(projector)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return seconds, cpu, reached, views.get("device", "bench-00000")
    finally:
        views.close()


def run(quick: bool) -> Result:
    total = 50_000 if quick else 1_000_000
    devices = 1_000 if quick else DEVICES
    result = Result("rebuild", quick)
    with (
        own_database("rebuild_events") as events_url,
        own_database("rebuild_views") as views_url,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        app = Lonewatch(eventsourcing_env(events_url), FakeClock())
        try:
            app.import_directory(
                load_directory(write_directory(Path(tmp) / "d.yaml", devices=devices))
            )
            save_rate = generate(app, total, devices)
            head = app.recorder.max_notification_id() or 0
            reference = read_and_decode(app)
            timed = {}
            for name, way in WAYS.items():
                timed[name] = rebuild_into(app, views_url, way)
                assert timed[name][2] == head, name
            spent = parts(app, views_url)
        finally:
            app.close()
    docs = [found[3] for found in timed.values()]
    for name, (seconds, cpu, _, _doc) in timed.items():
        result.add(
            Figure(
                f"events rebuilt/s, {name}",
                head / seconds,
                "ev/s",
                TARGET_RATE,
                reference=f"read and decode alone {reference:,.0f} ev/s",
            ),
            Figure(f"this process's CPU per event, {name}", cpu / head * 1e6, "µs"),
        )
    result.add(
        *(
            Figure(f"CPU per event, {part} (a rebuild's parts, one after the other)", us, "µs")
            for part, us in spent.items()
        ),
        Figure("reading and decoding the log alone", reference, "ev/s"),
        Figure("events stored/s while generating", save_rate, "ev/s"),
    )
    result.details = {
        "events": head,
        "devices": devices,
        "device_doc_sample": docs[-1],
        "same device document each way": all(d == docs[0] for d in docs),
    }
    return result
