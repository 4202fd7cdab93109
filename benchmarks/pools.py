"""The exports pool's CPU priority against the alarm path: SOS press to first SMS while
printable exports of a 10,000-event record run, the pool niced and not, in pairs.

    python -m benchmarks [--quick] pools

Why: the pools run at a lower CPU priority so that they yield to the alarm path. That is
right for argon2 (C, without the GIL), but an export is Python holding the GIL: when a
busy machine deschedules the niced thread while it holds the GIL, the event loop (where
the gateway's alarms are handled) waits for it at that low priority too.

Each run starts the real service (benchmarks/pools_serve.py: the `serve` command with the
exports pool at the run's nice value and a watch on the event loop's stalls) on one
store holding a 10,000-event record, keeps `EXPORTERS` clients asking for its printable
and JSON exports over HTTP (each asks again as soon as answered), and presses SOS on
fresh devices meanwhile (benchmarks/sos.py `presses`). The settings alternate run by run
(A B, B A, ...) so each pair shares its minute of the machine's load. Per run: SOS p50,
p99, missed, the loop's longest stall during the presses, and exports answered.
`LW_BENCH_POOLS_NICES=10,5` compares other values. `LW_BENCH_POOLS_LOAD=login` runs the same pairs under sos.py's login flood (30 clients,
30 addresses) instead: the password pool's nice is not changed by the setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    HOST,
    Figure,
    Result,
    free_port,
    lonewatch,
    own_database,
    own_mosquitto,
    service_env,
    wait_healthy,
    write_directory,
)
from benchmarks.replay import EVENTS, fill
from benchmarks.sos import DEVICES, LOGIN_CLIENTS, _load, _report, _summary, presses
from service.bootstrap import build
from service.config import Settings
from simulators import server_process
from simulators.local_stack import REPO
from simulators.twilio_double import TwilioDouble

SETTINGS = tuple(int(n) for n in os.environ.get("LW_BENCH_POOLS_NICES", "10,0").split(","))
"""The exports pool's nice values compared (two: a pair alternates them)."""
EXPORTERS = 3
RECORD = "bench-00000"
LOAD = "LW_BENCH_POOLS_LOAD"


@contextlib.contextmanager
def _service(env: dict[str, str], log: Path, nice: int, loop_log: Path) -> Iterator[Any]:
    import subprocess

    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.pools_serve"],
            env={
                **os.environ,
                **env,
                "LW_BENCH_EXPORTS_NICE": str(nice),
                "LW_BENCH_LOOP_LOG": str(loop_log),
            },
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
    try:
        yield proc
    finally:
        server_process.stop(proc, 15)


def _longest_stall_ms(loop_log: Path, since: float, until: float) -> float:
    """The loop's longest gap between 1 ms wakes in the 100 ms windows ending in [since, until]."""
    worst = 0.0
    for line in loop_log.read_text().splitlines():
        at, gap = line.split()
        if since <= float(at) <= until + 0.1:
            worst = max(worst, float(gap))
    return worst


async def _exporting(port: int, token: str, stop: asyncio.Event, answers: Counter[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://{HOST}:{port}/api/v1/timeline/export"

    async def one(fmt: str) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            while not stop.is_set():
                async with http.get(url, params={"device": RECORD, "format": fmt}) as answer:
                    await answer.read()
                    answers[f"{fmt} {answer.status}"] += 1

    await asyncio.gather(*(one(("json", "html")[i % 2]) for i in range(EXPORTERS)))


async def _one_run(
    env: dict[str, str], tmp: Path, nice: int, double: TwilioDouble, mqtt_port: int, **kw: Any
) -> dict[str, Any]:
    http_port = free_port()
    env = {**env, "LW_HTTP_ADDR": f"{HOST}:{http_port}"}
    log, loop_log = tmp / f"service-{nice}.log", tmp / f"loop-{time.monotonic():.0f}-{nice}.txt"
    with _service(env, log, nice, loop_log) as proc:
        await asyncio.to_thread(wait_healthy, http_port, proc, log)
        await presses(mqtt_port, double, count=2, tag=f"warm{kw['run']}", gap=0.2)
        stop = asyncio.Event()
        answers: Counter[str] = Counter()
        if kw["load"] == "login":
            flood = await _load(
                *("benchmarks.login_flood", "--port", str(http_port)),
                *("--clients", str(LOGIN_CLIENTS), "--addresses", str(LOGIN_CLIENTS)),
                *("--duration", f"{1.5 + kw['count'] * kw['gap'] + 1:.1f}"),
            )
            await asyncio.sleep(1.5)
        else:
            loading = asyncio.create_task(_exporting(http_port, kw["token"], stop, answers))
            await asyncio.sleep(2.0)  # the exports are under way (the first decodes the record)
        since = time.monotonic()
        latencies, _ = await presses(
            mqtt_port, double, count=kw["count"], tag=f"p{kw['run']}", gap=kw["gap"]
        )
        until = time.monotonic()
        if kw["load"] == "login":
            answers.update((await _report(flood, 30)).get("statuses", {}))
        else:
            stop.set()
            await asyncio.wait_for(loading, 120)
    return _summary(latencies) | {
        "latencies_ms": [round(x, 1) for x in latencies],
        "nice": nice,
        "loop_longest_stall_ms": _longest_stall_ms(loop_log, since, until),
        "answers": dict(answers),
    }


async def _run(quick: bool) -> Result:
    pairs, count, gap = (2, 15, 0.3) if quick else (4, 25, 0.3)
    load = os.environ.get(LOAD, "exports")
    result = Result("pools" if load == "exports" else f"pools-{load}", quick)
    runs: list[dict[str, Any]] = []
    with (
        own_mosquitto() as mqtt_port,
        own_database("pools") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        async with TwilioDouble(ACCOUNT, AUTH_TOKEN) as double:
            directory = write_directory(tmp / "directory.yaml", devices=DEVICES)
            with directory.open("a") as more:
                more.write("  - {username: bench-dsl, school: bench, role: dsl}\n")
            env = service_env(
                database_url=db, mqtt_port=mqtt_port, http_port=0, twilio_base=double.base_url
            )
            await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
            container = build(Settings(database_url=db, mqtt_url="mqtt://127.0.0.1:1"))
            try:
                token = container.app.issue_token("bench-dsl")
                await asyncio.to_thread(fill, container, RECORD, EVENTS)
            finally:
                container.close()
            for p in range(pairs):
                order = SETTINGS if p % 2 == 0 else SETTINGS[::-1]
                for nice in order:
                    run = await _one_run(
                        env, tmp, nice, double, mqtt_port,
                        run=len(runs), count=count, gap=gap, token=token, load=load,
                    )  # fmt: skip
                    run["pair"] = p
                    shown = {k: v for k, v in run.items() if k != "latencies_ms"}
                    print(f"   pair {p} nice {nice}: {shown}", flush=True)
                    runs.append(run)
    for nice in SETTINGS:
        mine = [r for r in runs if r["nice"] == nice]
        every = _summary([x for r in mine for x in r["latencies_ms"]])
        name = f"exports pool at nice {nice}, {load}"
        med = statistics.median
        result.add(
            Figure(f"{name}: SOS p50 (all presses)", every["p50_ms"], "ms"),
            Figure(f"{name}: SOS p99 (all presses)", every["p99_ms"], "ms"),
            Figure(
                f"{name}: loop's longest stall (median of runs)",
                med(r["loop_longest_stall_ms"] for r in mine),
                "ms",
            ),
            Figure(f"{name}: missed", sum(r["missed"] for r in mine), "presses", 0, False),
        )
    result.details = {"runs": runs, "presses_per_run": count, "exporters": EXPORTERS}
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
