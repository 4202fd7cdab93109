"""`lonewatch serve` for benchmarks/pools.py: the exports pool at a nice value of the run's
choosing, and a watch on the event loop's stalls.

    LW_BENCH_EXPORTS_NICE=0 LW_BENCH_LOOP_LOG=/tmp/loop.txt python -m benchmarks.pools_serve

The service is the real one (the same `serve` command); only two things are added here,
so that the production code carries no benchmark switch: the exports pool's threads get
`LW_BENCH_EXPORTS_NICE` (every other pool keeps its own), and a task on the HTTP event
loop (the loop the gateway hands alarms to) asks to wake every millisecond and writes,
every 100 ms, a line `monotonic_seconds longest_gap_ms` to `LW_BENCH_LOOP_LOG`: the
longest any alarm or request would have waited for the loop in that tenth of a second.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any, TextIO

from aiohttp import web

from service.entrypoints.cli import main as cli
from service.workers import pools

_bounded_init = pools.BoundedPool.__init__


def _init(self: pools.BoundedPool, name: str, **kwargs: Any) -> None:
    if name == "exports":
        kwargs["nice"] = int(os.environ["LW_BENCH_EXPORTS_NICE"])
    _bounded_init(self, name, **kwargs)


async def _watch(out: TextIO) -> None:
    """A line every 100 ms (a write to a local file: microseconds, the same in every run)."""
    last = window_start = time.monotonic()
    longest = 0.0
    while True:
        await asyncio.sleep(0.001)
        now = time.monotonic()
        longest = max(longest, now - last)
        last = now
        if now - window_start >= 0.1:
            out.write(f"{now:.4f} {longest * 1000:.1f}\n")
            window_start, longest = now, 0.0


_run_app = web.run_app
_watching: list[asyncio.Task[None]] = []


def _run_app_watched(*args: Any, **kwargs: Any) -> None:
    loop = asyncio.new_event_loop()
    out = open(os.environ["LW_BENCH_LOOP_LOG"], "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
    _watching.append(loop.create_task(_watch(out)))
    _run_app(*args, loop=loop, **kwargs)


if __name__ == "__main__":
    pools.BoundedPool.__init__ = _init  # type: ignore[method-assign]
    web.run_app = _run_app_watched
    sys.exit(cli.main(["serve"]))
