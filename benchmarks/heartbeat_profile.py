"""CPU per heartbeat, end to end in the service, and where it goes (cProfile).

The whole service (`service.bootstrap.build` and `create_app`, as `lonewatch serve` runs
it) in this process, on a Mosquitto and a PostgreSQL database of its own; a heartbeat
flood from another process; the service's CPU time (every thread: paho's, the loop, the
lanes, the views, the Merkle log) from the flood's start until every acknowledged message
is recorded and the views and the Merkle log have followed it, divided by the messages
recorded. Run twice: once plain for the figure, once
under cProfile (every thread) for the shares, since the profiler's own cost inflates times.

    python -m benchmarks.heartbeat_profile [--seconds 5] [--sqlite] [--top 25] [--stages]

`--stages`: the plain run also times each stage of the service (benchmarks/heartbeat_stages.py,
each wrapped method by its thread's CPU clock) and prints CPU-µs a heartbeat for each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import (
    free_port,
    lonewatch,
    own_database,
    own_mosquitto,
    service_env,
    write_directory,
)
from benchmarks.heartbeat_stages import Stages
from benchmarks.thread_times import TaskTimes, by_kind, task_times, thread_cpu, times_by_kind
from simulators.local_stack import REPO

DEVICES = 1000
WAITING = frozenset(
    {
        "<method 'acquire' of '_thread.lock' objects>",
        "<method 'acquire' of '_thread.RLock' objects>",
        "<method 'get' of '_queue.SimpleQueue' objects>",
        "<built-in method select.select>",
        "<method 'poll' of 'select.epoll' objects>",
        "<built-in method posix.waitpid>",
        "<built-in method time.sleep>",
    }
)
"""Calls that block: their time is waiting, not work."""


@dataclass
class Cost:
    """What one run measured."""

    recorded: int
    cpu_seconds: float
    wall_seconds: float
    top: list[dict[str, Any]] = field(default_factory=list)
    threads: dict[str, float] = field(default_factory=dict)
    """CPU seconds per kind of thread (its name without numbers) over the same window."""
    kernel: dict[str, TaskTimes] = field(default_factory=dict)
    """The same window from /proc: each kind's user and system seconds and switches."""
    stages: list[str] = field(default_factory=list)
    """With `--stages`: one printed line a stage of the service (CPU-µs a heartbeat)."""
    phases: list[Phase] = field(default_factory=list)
    """The same split at the flood's end: while publishing, then draining what was left."""

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_seconds / self.recorded * 1e6 if self.recorded else float("inf")


@dataclass
class Phase:
    """One part of a run: the heartbeats recorded in it, its CPU by thread kind and stage."""

    name: str
    recorded: int
    seconds: float
    threads: dict[str, float]
    stages: list[str]


class ThreadProfiles:
    """cProfile on every thread started while installed, and on the calling one."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start_here(self, *_: object) -> None:
        # Each thread's own CPU time, not the wall clock: a thread blocked on a lock, a
        # queue or a socket costs nothing, and is not where the time goes.
        profile = cProfile.Profile(time.thread_time)
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook on this thread

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        threading.setprofile(self._start_here)
        self._start_here()
        try:
            yield
        finally:
            threading.setprofile(None)  # type: ignore[arg-type]
            self.profiles[0].disable()

    def merged(self) -> pstats.Stats | None:
        stats: pstats.Stats | None = None
        for profile in self.profiles:
            with contextlib.suppress(TypeError):  # a profile that saw nothing
                if stats is None:
                    stats = pstats.Stats(profile, stream=io.StringIO())
                else:
                    stats.add(profile)
        return stats

    def top(self, per: int, limit: int, save: Path | None = None) -> list[dict[str, Any]]:
        """The functions with the most CPU time of their own, across threads, per message.
        Blocking calls are left out: a thread waiting is not using the CPU (the profiler,
        timing threads by their CPU clock, still charges some waits to lock acquires)."""
        stats = self.merged()
        if stats is None:
            return []
        if save is not None:
            stats.dump_stats(str(save))
        raw: dict[Any, Any] = {
            func: v
            for func, v in stats.stats.items()  # type: ignore[attr-defined]
            if func[2] not in WAITING
        }
        total = sum(v[2] for v in raw.values()) or 1.0
        rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]
        return [
            {
                "function": _name(func),
                "calls_per_message": round(v[1] / per, 2),
                "own_us_per_message": round(v[2] / per * 1e6, 1),
                "share": round(v[2] / total, 3),
                "cumulative_us_per_message": round(v[3] / per * 1e6, 1),
            }
            for func, v in rows
        ]


def _name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name
    for root in (str(REPO) + "/", "site-packages/", "lib/python3"):
        if root in path:
            path = path.split(root, 1)[1]
            break
    return f"{path}:{line}({name})"


async def _service_run(
    env: dict[str, str],
    mqtt_port: int,
    seconds: float,
    rate: float | None,
    stages: Stages | None = None,
) -> Cost:
    from aiohttp import web

    from service.bootstrap import build, create_app
    from service.config import load_settings
    from service.logs import configure_logging

    configure_logging("json")
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    settings = load_settings(environ=env)
    container = build(settings)
    app = create_app(container)
    runner = web.AppRunner(app)
    await runner.setup()
    host, port = settings.http_addr.rsplit(":", 1)
    await web.TCPSite(runner, host, int(port)).start()
    try:
        gateway = container.gateway
        deadline = time.monotonic() + 30
        while not (
            container.sessions.main is not None
            and getattr(container.sessions.main, "connected", False)
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not connect to the broker")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        recorded_before = gateway.stats["recorded"]
        threads0, tasks0 = thread_cpu(), task_times()
        if stages is not None:
            stages.reset()
        cpu0, wall0 = time.process_time(), time.monotonic()
        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "simulators.fleet",
            "flood",
            *("--port", str(mqtt_port), "--devices", str(DEVICES)),
            *("--duration", str(seconds), "--connections", "4", "--run", "profile"),
            *(("--rate", str(rate)) if rate else ()),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await flood.communicate()
        report = json.loads(out.decode().strip().splitlines()[-1])
        # The phase split: what the flood's reading cost while it was published, against
        # what draining the backlog afterwards cost (each per heartbeat recorded in it).
        threads1, wall1 = thread_cpu(), time.monotonic()
        recorded1 = gateway.stats["recorded"] - recorded_before
        stages1 = stages.snapshot() if stages is not None else None
        deadline = time.monotonic() + 120
        while gateway.stats["recorded"] - recorded_before < report["acked"]:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        # End to end: the views and the Merkle log have followed every event recorded (their
        # work is part of a heartbeat's cost, and lags the commit by up to a round).
        await asyncio.to_thread(_followed, container, deadline)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        thread_cpu_then, tasks1 = thread_cpu(), task_times()
        threads = by_kind(threads0, thread_cpu_then)
        recorded = gateway.stats["recorded"] - recorded_before
        table = stages.table(recorded) if stages is not None else []
        phases = [
            Phase(
                "publishing",
                recorded1,
                wall1 - wall0,
                by_kind(threads0, threads1),
                stages.table(recorded1, until=stages1) if stages is not None else [],
            ),
            Phase(
                "draining",
                recorded - recorded1,
                wall - (wall1 - wall0),
                by_kind(threads1, thread_cpu_then),
                stages.table(recorded - recorded1, since=stages1) if stages is not None else [],
            ),
        ]
        kernel = times_by_kind(tasks0, tasks1)
        return Cost(
            recorded, cpu, wall, threads=threads, kernel=kernel, stages=table, phases=phases
        )
    finally:
        await runner.cleanup()
        with contextlib.suppress(Exception):
            container.app.close()


def _followed(container: Any, deadline: float) -> None:
    head = container.projector.head()
    while time.monotonic() < deadline:
        merkle = container.merkle.size()[1] if container.merkle is not None else head
        if container.projector.position() >= head and merkle >= head:
            return
        time.sleep(0.05)


def measure(
    *,
    seconds: float,
    rate: float | None,
    sqlite: bool,
    profile: bool,
    top: int = 25,
    save: Path | None = None,
    stages: bool = False,
) -> Cost:
    """One run: a fresh broker and store, the directory imported, the flood, the drain."""
    with (
        own_mosquitto() as mqtt_port,
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmpdir,
    ):
        where = Path(tmpdir)
        db = (
            f"sqlite:///{where / 'store.sqlite3'}"
            if sqlite
            else stack.enter_context(own_database("hbprofile"))
        )
        directory = write_directory(where / "directory.yaml", devices=DEVICES)
        env = service_env(database_url=db, mqtt_port=mqtt_port, http_port=free_port())
        lonewatch(env, "directory", "import", str(directory))
        profiles = ThreadProfiles()
        timed = Stages() if stages else None
        with (
            profiles.installed() if profile else contextlib.nullcontext(),
            timed.installed() if timed is not None else contextlib.nullcontext(),
        ):
            cost = asyncio.run(_service_run(env, mqtt_port, seconds, rate, timed))
        if profile:
            cost.top = profiles.top(max(1, cost.recorded), top, save)
        return cost


def _kernel_line(kind: str, times: TaskTimes, per: int) -> str:
    """A kind of thread's user and system CPU-µs and its switches, a heartbeat (/proc)."""
    return (
        f"  {times.user * 1e6 / per:7.1f} user + {times.system * 1e6 / per:4.1f} system CPU-us, "
        f"{times.voluntary / per:.3f} voluntary + {times.involuntary / per:.3f} involuntary "
        f"switches  thread {kind}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heartbeat_profile")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=10_000.0, help="heartbeats/s offered")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--stages", action="store_true", help="time the service's stages in the plain run"
    )
    parser.add_argument("--save", type=Path, help="write the merged pstats here")
    args = parser.parse_args()
    plain = measure(
        seconds=args.seconds,
        rate=args.rate,
        sqlite=args.sqlite,
        profile=False,
        stages=args.stages,
    )
    print(
        f"plain: {plain.recorded} heartbeats recorded, {plain.cpu_seconds:.2f} s CPU in "
        f"{plain.wall_seconds:.1f} s: {plain.cpu_us_per_message:,.0f} CPU-us per heartbeat",
        flush=True,
    )
    for kind, seconds in plain.threads.items():
        if seconds * 1e6 / max(1, plain.recorded) >= 0.5:
            print(f"  {seconds * 1e6 / max(1, plain.recorded):7.1f} CPU-us  thread {kind}")
    for kind, times in plain.kernel.items():
        if (times.user + times.system) * 1e6 / max(1, plain.recorded) >= 0.5:
            print(_kernel_line(kind, times, max(1, plain.recorded)))
    for line in plain.stages:
        print(line)
    for phase in plain.phases:
        per = max(1, phase.recorded)
        print(
            f"{phase.name}: {phase.recorded} recorded in {phase.seconds:.1f} s "
            f"({phase.recorded / max(1e-9, phase.seconds):,.0f}/s), "
            f"{sum(phase.threads.values()) * 1e6 / per:,.1f} CPU-us a heartbeat recorded"
        )
        for kind, seconds in phase.threads.items():
            if seconds * 1e6 / per >= 0.5:
                print(f"  {seconds * 1e6 / per:7.1f} CPU-us  thread {kind}")
        for line in phase.stages:
            print(line)
    if args.no_profile:
        return
    profiled = measure(
        seconds=args.seconds,
        rate=args.rate,
        sqlite=args.sqlite,
        profile=True,
        top=args.top,
        save=args.save,
    )
    print(
        f"under cProfile: {profiled.recorded} recorded, "
        f"{profiled.cpu_us_per_message:,.0f} CPU-us per heartbeat (inflated by the profiler)"
    )
    print(f"{'own us/msg':>10} {'share':>6} {'cum us/msg':>10} {'calls/msg':>9}  function")
    for row in profiled.top:
        print(
            f"{row['own_us_per_message']:>10.1f} {row['share']:>6.1%} "
            f"{row['cumulative_us_per_message']:>10.1f} {row['calls_per_message']:>9.2f}  "
            f"{row['function']}"
        )


if __name__ == "__main__":
    main()
