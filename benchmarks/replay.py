"""5. Replay: the timeline of a subject with 10,000 events, whole and as of an instant in its middle.

Visits are being built in parallel; until they land the subject is a device whose
10,000 heartbeats are interleaved with as many from other devices (so its
positions are scattered, as in life). Each case is timed through
`service.records.timeline.timeline` and through `GET /api/v1/timeline` on the real
aiohttp app (in this process, no MQTT). The visit variant is one more entry in
SUBJECTS: ("visit", key) once `visit:{id}` subjects are indexed and the API
takes `visit=` (INTERFACES.md section 4).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.common import Figure, Result, free_port, own_database, write_directory
from service.adapters.directory_file import load_directory
from service.bootstrap import build, create_app
from service.config import Settings
from service.domain.devices.messages import DeviceMessage
from service.records.timeline import timeline

TARGET_MS = 100.0
EVENTS = 10_000
REPEATS = 7
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SUBJECTS: list[tuple[str, str]] = [("device", "bench-00000")]  # + ("visit", ID) when visits land


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _timed(call: Callable[[], Any]) -> tuple[list[float], Any]:
    samples, value = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        value = await call()
        samples.append(time.perf_counter() - t0)
    return samples, value


async def _run(quick: bool) -> Result:
    events = 2_000 if quick else EVENTS
    result = Result("replay", quick)
    with own_database("replay") as db, tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        container = build(Settings(database_url=db, mqtt_url="mqtt://127.0.0.1:1"))
        app = container.app
        app.import_directory(load_directory(write_directory(Path(tmp) / "d.yaml", devices=10)))
        token = app.issue_token("bench-operator")
        kind, key = SUBJECTS[0]
        for start in range(0, 2 * events, 5000):
            app.save(
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
                    for n in range(start, min(start + 5000, 2 * events))
                )
            )
        middle = START + timedelta(milliseconds=100 * events)
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        figures: dict[str, tuple[list[float], int]] = {}
        try:
            views = container.views

            async def direct(as_of: datetime | None) -> list[dict[str, Any]]:
                return await asyncio.to_thread(timeline, app, views, f"{kind}:{key}", as_of=as_of)

            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:

                async def over_http(as_of: datetime | None) -> list[dict[str, Any]]:
                    params = {kind: key} | ({"to": as_of.isoformat()} if as_of else {})
                    async with http.get(
                        f"http://127.0.0.1:{port}/api/v1/timeline", params=params
                    ) as response:
                        response.raise_for_status()
                        body: dict[str, Any] = await response.json()
                        return list(body["events"])

                for label, call in (
                    ("timeline()", direct),
                    ("GET /timeline", over_http),
                ):
                    for case, as_of in (("whole", None), ("as_of middle", middle)):
                        samples, rows = await _timed(lambda c=call, a=as_of: c(a))  # type: ignore[misc]
                        figures[f"{label} {case}"] = (samples, len(rows))
        finally:
            await runner.cleanup()
            container.close()
    for name, (samples, rows) in figures.items():
        result.add(
            Figure(
                f"{kind} {name} ({rows:,} events)",
                _median_ms(samples),
                "ms",
                TARGET_MS,
                at_least=False,
            )
        )
    result.details = {
        "subject": f"{kind}:{key}",
        "events_in_subject": events,
        "events_in_store": 2 * events,
        "samples_ms": {k: [round(s * 1000, 2) for s in v[0]] for k, v in figures.items()},
        "statistic": f"median of {REPEATS}",
    }
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
