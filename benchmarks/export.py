"""The DSL's printable export of a 10,000-event record, alone (issue 12: ≤ 500 ms, cold too).

`replay` times the export among twenty other reads of the same record; this times only it,
on the same record (benchmarks/replay.py `fill`), over HTTP on the real aiohttp app:

- "first in process": the record's first export since the app started (nothing decoded,
  checked or told yet in this process; one sample, since there is one first);
- "cold": the same with what an earlier export kept thrown away first (`StoredRows.clear`,
  `forget_told_times`), as `replay` times it;
- "warm": the same export again;
- "cold, the memos full of other records": a cold export once the memos hold two records'
  worth of other events (as in a process that has served other records since), after a
  second 10,000 heartbeats of another device are stored (so last: the other figures are
  of the record as `replay` fills it);
- the JSON export, warm;
- the event loop's longest hold while an export is made and sent: a task on the loop asks
  to wake every millisecond, and the longest gap between its wakes is what any other
  request or the live feed would have waited (on a loaded machine the scheduler adds to it);
- the cycle collector's time while it is made (its longest) and its full passes (all of them).

Wall and this process's CPU (every thread) for each; compare pairs made back to back.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.common import Figure, Result, free_port, own_database, write_directory
from benchmarks.replay import EVENTS, EXPORT_TARGET_MS, fill
from service.adapters.directory_file import load_directory
from service.adapters.signing import SigningKey
from service.bootstrap import build, create_app
from service.config import Settings
from service.records.export import forget_told_times
from service.records.stored_rows import stored_rows_of

REPEATS = 7
OTHER = "bench-00001"
OTHERS = [f"bench-{n:05d}" for n in range(1, 10)]
"""The other devices of `fill`'s record, their records exported before `FULL`'s: once a
second 10,000 heartbeats are filled for `OTHER`, ~30,000 events, more than the memos hold
(service/records/stored_rows.py `CAPACITY`)."""
FULL = "html, cold, the memos full of other records"


class _Collections:
    """The cycle collector's passes while it is watched: seconds, and how many were full."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2

    def __enter__(self) -> _Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


async def _held(call: Callable[[], Awaitable[Any]]) -> tuple[float, float, float, float, int]:
    """`call`'s wall and CPU seconds, the loop's longest gap between 1 ms wakes meanwhile,
    and the cycle collector's seconds and full passes meanwhile (in any thread)."""
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    watching = asyncio.create_task(ticker())
    with _Collections() as collections:
        t0, c0 = time.perf_counter(), time.process_time()
        await call()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    await watching
    return wall, cpu, longest, collections.seconds, collections.full


async def _run(quick: bool) -> Result:
    events = 2_000 if quick else EVENTS
    result = Result("export", quick)
    key = "bench-00000"
    with own_database("export") as db, tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        settings = Settings(
            database_url=db,
            mqtt_url="mqtt://127.0.0.1:1",
            signing_key=SigningKey.generate().setting(),
        )
        container = build(settings)
        directory = write_directory(Path(tmp) / "d.yaml", devices=10)
        with directory.open("a") as more:
            more.write("  - {username: bench-dsl, school: bench, role: dsl}\n")
        container.app.import_directory(load_directory(directory))
        token = container.app.issue_token("bench-dsl")
        fill(container, key, events)
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        samples: dict[str, list[tuple[float, float, float, float, int]]] = {}
        try:
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:

                async def export(fmt: str, device: str = key) -> None:
                    url = f"http://127.0.0.1:{port}/api/v1/timeline/export"
                    async with http.get(url, params={"device": device, "format": fmt}) as answer:
                        answer.raise_for_status()
                        await answer.read()

                async def html() -> None:
                    await export("html")

                async def json() -> None:
                    await export("json")

                samples["html, first in process"] = [await _held(html)]
                for label, call, before in (
                    ("html, cold", html, True),
                    ("html, warm", html, False),
                    ("json, warm", json, False),
                ):
                    samples[label] = []
                    for _ in range(REPEATS):
                        if before:
                            stored_rows_of(container.app).clear()
                            forget_told_times()
                        samples[label].append(await _held(call))
                # A serving process has read other records since: the memos hold two
                # records' worth of other events, and this record's export lets them go.
                await asyncio.to_thread(fill, container, OTHER, events, since=events)
                samples[FULL] = []
                for _ in range(REPEATS):
                    stored_rows_of(container.app).clear()
                    forget_told_times()
                    for other in OTHERS:
                        await export("html", other)
                    samples[FULL].append(await _held(html))
        finally:
            await runner.cleanup()
            container.close()
    for label, taken in samples.items():
        target = EXPORT_TARGET_MS if label.startswith("html") else None
        median = statistics.median
        name = f"GET /timeline/export {label} ({events:,} events)"
        result.add(Figure(name, median(s[0] for s in taken) * 1000, "ms", target, at_least=False))
        result.add(Figure(f"{name}: this process's CPU", median(s[1] for s in taken) * 1000, "ms"))
        result.add(
            Figure(f"{name}: the loop's longest hold", max(s[2] for s in taken) * 1000, "ms")
        )
        result.add(
            Figure(f"{name}: the cycle collector (longest)", max(s[3] for s in taken) * 1000, "ms")
        )
        result.add(Figure(f"{name}: full collections", sum(s[4] for s in taken), "passes"))
    result.details = {
        "samples_ms": {
            k: [[*(round(x * 1000, 1) for x in s[:4]), s[4]] for s in v] for k, v in samples.items()
        },
        "statistic": f"median of {REPEATS} (first in process: one); wall, CPU, loop's hold, "
        "the collector's time (ms) and full passes",
    }
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
