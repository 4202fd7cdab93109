"""5. Replay: the record of a subject with 10,000 events, whole and as of an instant in its
middle, and its printable export.

The subject is a device whose 10,000 heartbeats are interleaved with as many from other
devices (so its positions are scattered, as in life). Each case is timed through the
records in process (`incident_record`, what the API serves: events, state after each,
seals and Merkle leaves checked) and through `GET /api/v1/timeline` on the real aiohttp
app (in this process, no MQTT), to the last byte of the response; the client's own
parse of the JSON is printed beside it. A page (500 rows, what the console asks for
first) is served from the whole record's check made by an earlier read, kept a minute
(service/records/pages.py); "cold" is the same page with that check thrown away first
(the plain first page then answers from its own rows, "checking", while a worker checks
the whole: service/records/first_page.py; "and then its verdict" waits for that check
too); a cold page as of an instant uses the saved states of the record's last check
(service/records/instant_page.py), "after a restart" has none in memory but the one the
last background check saved in the database (service/records/saved_states.py), "first
opening" has none anywhere. The export is `GET /api/v1/timeline/export`
(`format=html`, with a signing key, so each event's inclusion proof is built too); "cold" is
the same export with nothing kept from an earlier read (each event decoded, each seal and
Merkle leaf checked afresh), as the first export of a record in a process.

Reference, measured in the same run: the store's own read of the same events (the index,
then one query for the events by position), which no record of them can beat.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.common import Figure, Result, free_port, own_database, write_directory
from service.adapters.directory_file import load_directory
from service.adapters.event_rows import notifications_at
from service.adapters.signing import SigningKey
from service.bootstrap import build, create_app
from service.config import Settings
from service.container import Container
from service.domain.devices.messages import DeviceMessage
from service.entrypoints.http.records import PAGE
from service.records.export import forget_told_times
from service.records.pages import record_page
from service.records.record_cache import cache_of
from service.records.record_shape import Page
from service.records.replay import incident_record
from service.records.saved_states import KeptInStore
from service.records.stored_rows import stored_rows_of
from service.records.whole_checks import checks_of

TARGET_MS = 100.0
EXPORT_TARGET_MS = 500.0
EVENTS = 10_000
REPEATS = 7
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SUBJECTS: list[tuple[str, str]] = [("device", "bench-00000")]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


CPU: dict[int, list[float]] = {}
"""This process's CPU time (every thread: client, server, pool) per sample of the last
`_timed` call: the machine's load inflates it far less than the wall clock."""


async def _timed(
    call: Callable[[], Awaitable[Any]], before: Callable[[], Awaitable[Any]] | None = None
) -> tuple[list[float], Any]:
    """`call` REPEATS times; `before` (untimed) ahead of each."""
    samples, value, cpu = [], None, []
    for _ in range(REPEATS):
        if before is not None:
            await before()
        t0, c0 = time.perf_counter(), time.process_time()
        value = await call()
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[id(samples)] = cpu
    return samples, value


def fill(container: Container, key: str, events: int, *, since: int = 0) -> None:
    """`events` heartbeats of `key` interleaved with as many of nine other devices (after
    the `since` of each already stored: benchmarks/growth.py grows one store)."""
    for start in range(2 * since, 2 * (since + events), 5000):
        container.app.save(
            *(
                DeviceMessage(
                    device=key if n % 2 == 0 else f"bench-{1 + n % 9:05d}",
                    kind="heartbeat",
                    message_id=None,
                    device_ts=None,
                    fields={"battery": 80, "seq": n},
                    school="bench",
                    staff="st-0000",
                    timestamp=START + timedelta(milliseconds=100 * n),
                )
                for n in range(start, min(start + 5000, 2 * (since + events)))
            )
        )
    # Timed once the views and the log have every event (the server would catch up anyway).
    container.projector.catch_up()
    if container.merkle is not None:
        container.merkle.catch_up()


async def _run(quick: bool) -> Result:
    events = 2_000 if quick else EVENTS
    result = Result("replay", quick)
    kind, key = SUBJECTS[0]
    subject = f"{kind}:{key}"
    with own_database("replay") as db, tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        settings = Settings(
            database_url=db,
            mqtt_url="mqtt://127.0.0.1:1",
            signing_key=SigningKey.generate().setting(),
        )
        container = build(settings)
        app, views = container.app, container.views
        directory = write_directory(Path(tmp) / "d.yaml", devices=10)
        with directory.open("a") as more:
            more.write("  - {username: bench-dsl, school: bench, role: dsl}\n")
        app.import_directory(load_directory(directory))
        token = app.issue_token("bench-dsl")
        fill(container, key, events)
        middle = START + timedelta(milliseconds=100 * events)
        quarter = START + timedelta(milliseconds=50 * events)
        late = START + timedelta(milliseconds=140 * events)
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        figures: dict[str, tuple[list[float], int]] = {}
        parse: list[float] = []
        try:

            async def stored() -> list[Any]:
                def read() -> list[Any]:
                    positions = [e.position for e in views.index(subject)]
                    return notifications_at(app.recorder, positions)

                return await asyncio.to_thread(read)

            async def direct(as_of: datetime | None) -> list[dict[str, Any]]:
                record = await asyncio.to_thread(
                    incident_record, app, views, subject, as_of=as_of, merkle=container.merkle
                )
                return list(record["events"])

            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:

                async def get(path: str, params: dict[str, str]) -> bytes:
                    url = f"http://127.0.0.1:{port}{path}"
                    async with http.get(url, params=params) as response:
                        response.raise_for_status()
                        return await response.read()

                async def over_http(as_of: datetime | None) -> list[Any]:
                    params = {kind: key, "limit": "all"}
                    params |= {"as_of": as_of.isoformat()} if as_of else {}
                    body = await get("/api/v1/timeline", params)
                    t0 = time.perf_counter()
                    rows = list(json.loads(body)["events"])
                    if as_of is None:
                        parse.append(time.perf_counter() - t0)
                    return rows

                async def first_page(as_of: datetime | None) -> list[Any]:
                    """What the console asks for first: the server's default page."""
                    params = {kind: key} | ({"as_of": as_of.isoformat()} if as_of else {})
                    return list(json.loads(await get("/api/v1/timeline", params))["events"])

                async def export() -> list[Any]:
                    body = await get("/api/v1/timeline/export", {kind: key, "format": "html"})
                    return [None] * body.count(b"<tr><td>")

                samples, rows = await _timed(stored)
                figures["reference: the store's read of the same events"] = (samples, len(rows))

                async def direct_page(as_of: datetime | None) -> list[dict[str, Any]]:
                    record = await asyncio.to_thread(
                        record_page,
                        app,
                        views,
                        subject,
                        as_of=as_of,
                        merkle=container.merkle,
                        page=Page(limit=PAGE),
                        zone=UTC,
                        cache=cache_of(app),
                    )
                    return list(record["events"])

                async def cold(_: Any = None) -> None:
                    """No whole-record check to serve from (and none in hand: a cold first
                    page hands the whole check to a worker, which the next sample waits for
                    here, untimed)."""
                    await asyncio.to_thread(checks_of(app).wait, subject)
                    cache_of(app).drop(subject)

                async def restarted(_: Any = None) -> None:
                    """`cold`, and no saved state in memory: the record's first opening
                    since the process started, the state the last background check saved
                    in the database read back (service/records/saved_states.py)."""
                    await cold()
                    cache_of(app).forget(subject)

                async def first_opening(_: Any = None) -> None:
                    """`restarted`, and none in the database either: nothing to start from."""
                    await restarted()
                    keeper = cache_of(app).keeper
                    if isinstance(keeper, KeptInStore):
                        await asyncio.to_thread(keeper.store.remove, subject)

                async def cold_page(as_of: datetime | None) -> list[Any]:
                    """The first page with no whole-record check to serve it from: from its
                    own rows, "checking", when it is the plain first page; as of an instant,
                    after the whole check, as before."""
                    return await first_page(as_of)

                async def cold_verdict(as_of: datetime | None) -> list[Any]:
                    """The cold first page and then the whole record's verdict (the wait
                    for the worker's check, as the console's next ask would find it)."""
                    rows = await first_page(as_of)
                    await asyncio.to_thread(checks_of(app).wait, subject)
                    return rows

                calls = (
                    ("records", direct),
                    ("records first page", direct_page),
                    ("GET /timeline limit=all", over_http),
                    ("GET /timeline first page", first_page),
                    ("GET /timeline first page, cold", cold_page),
                )
                for label, call in calls:
                    cases = [("whole", None), ("as_of middle", middle)]
                    if "cold" in label:
                        cases += [("as_of 1/4", quarter), ("as_of 7/10", late)]
                    for case, as_of in cases:
                        samples, rows = await _timed(
                            lambda c=call, a=as_of: c(a),  # type: ignore[misc]
                            cold if "cold" in label else None,
                        )
                        figures[f"{label} {case}"] = (samples, len(rows))
                openings = (("after a restart", restarted), ("first opening", first_opening))
                for opening, before in openings:
                    for case, as_of in (("as_of middle", middle), ("as_of 1/4", quarter)):
                        samples, rows = await _timed(
                            lambda a=as_of: cold_page(a),  # type: ignore[misc]
                            before,
                        )
                        figures[f"GET /timeline first page, {opening} {case}"] = (
                            samples,
                            len(rows),
                        )
                samples, rows = await _timed(lambda: cold_verdict(None), cold)
                figures["GET /timeline first page, cold, and then its verdict"] = (
                    samples,
                    len(rows),
                )
                await asyncio.to_thread(checks_of(app).wait, subject)

                async def poll(path: str, params: dict[str, str]) -> list[Any]:
                    """One of the console's asks for the verdict while a record is checked
                    (the whole check kept, as most of them find it)."""
                    return [json.loads(await get(path, {kind: key} | params))["integrity"]]

                polls: tuple[tuple[str, str, dict[str, str]], ...] = (
                    (
                        "one-row page (the console's poll before)",
                        "/api/v1/timeline",
                        {"limit": "1"},
                    ),
                    (
                        "GET /timeline/verdict (the console's poll now)",
                        "/api/v1/timeline/verdict",
                        {},
                    ),
                )
                for label, path, params in polls:
                    samples, rows = await _timed(lambda p=path, q=params: poll(p, q))  # type: ignore[misc]
                    figures[label] = (samples, len(rows))
                samples, rows = await _timed(export)
                figures["GET /timeline/export html"] = (samples, len(rows))

                async def nothing_kept() -> None:
                    """As the first export of a record in a process: no event decoded, no
                    seal or Merkle leaf checked, no recorded time told yet."""
                    stored_rows_of(app).clear()
                    forget_told_times()

                samples, rows = await _timed(export, nothing_kept)
                figures["GET /timeline/export html, cold"] = (samples, len(rows))
        finally:
            await runner.cleanup()
            container.close()
    reference = figures["reference: the store's read of the same events"]
    for name, (samples, rows) in figures.items():
        target = None if name.startswith("reference") else TARGET_MS
        if "export" in name:
            target = EXPORT_TARGET_MS
        result.add(
            Figure(
                f"{kind} {name} ({rows:,} events)",
                _median_ms(samples),
                "ms",
                target,
                at_least=False,
                reference="" if target is None else f"store read {_median_ms(reference[0]):.0f} ms",
            )
        )
    for name, (samples, _) in figures.items():
        result.add(Figure(f"{kind} {name}: this process's CPU", _median_ms(CPU[id(samples)]), "ms"))
    result.add(Figure("client's JSON parse of a whole timeline", _median_ms(parse), "ms"))
    result.details = {
        "subject": subject,
        "events_in_subject": events,
        "events_in_store": 2 * events,
        "samples_ms": {k: [round(s * 1000, 2) for s in v[0]] for k, v in figures.items()},
        "statistic": f"median of {REPEATS}; HTTP to the last byte of the body",
    }
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
