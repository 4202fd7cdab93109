"""Bounded worker pools for slow work people can trigger, apart from the alarm path.

The asyncio default executor carries the store calls of the gateway, the live views and
the dispatcher. Work that an anonymous client can cause (a password check: argon2 is
~140 ms and 1.5 cores here) or that a person can ask for in bulk (an export of 10,000
events) runs in a pool of its own: a few threads, a bounded number of jobs waiting, and
beyond that an immediate `PoolFull` saying when to try again, never an unbounded queue.
Its threads run at a lower CPU priority (Linux keeps a nice value per thread, and threads
they start, such as argon2's lanes, inherit it), so they yield to the alarm path. (Not 19:
at 19 a busy machine starves them, and a flood then holds the pool for ever.)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class PoolFull(Exception):
    """Every worker is busy and the waiting line is full: answer 503 with Retry-After."""

    def __init__(self, pool: str, retry_after: int) -> None:
        super().__init__(f"the {pool} pool is full; try again in {retry_after} s")
        self.pool = pool
        self.retry_after = retry_after


def _lower_priority(nice: int) -> None:
    """Runs in each new worker thread: this thread (and any it starts) yields the CPU."""
    if nice and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class BoundedPool:
    """`workers` threads and at most `waiting` jobs queued behind them."""

    def __init__(self, name: str, *, workers: int, waiting: int, nice: int = 0) -> None:
        self.name = name
        self.workers = workers
        self.capacity = workers + waiting
        self.stats: Counter[str] = Counter()
        self._executor = ThreadPoolExecutor(
            workers, thread_name_prefix=f"lw-{name}", initializer=_lower_priority, initargs=(nice,)
        )
        self._lock = threading.Lock()
        self._taken = 0
        self._seconds_per_job = 0.1  # a running estimate, for Retry-After

    @property
    def taken(self) -> int:
        """Jobs running or waiting now."""
        return self._taken

    def retry_after(self) -> int:
        """Whole seconds until a full pool has worked through its line, at least 1."""
        return max(1, math.ceil(self.capacity * self._seconds_per_job / self.workers))

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn` (with the caller's context variables, e.g. the log context) or raise
        PoolFull at once. The slot is freed when the job ends, even if nobody awaits it."""
        with self._lock:
            if self._taken >= self.capacity:
                self.stats["refused"] += 1
                raise PoolFull(self.name, self.retry_after())
            self._taken += 1
        context = contextvars.copy_context()

        def job() -> T:
            started = time.monotonic()
            try:
                return context.run(fn, *args, **kwargs)
            finally:
                took = time.monotonic() - started
                self._seconds_per_job += 0.2 * (took - self._seconds_per_job)

        try:
            future = self._executor.submit(job)
        except RuntimeError:  # shut down
            self._release(None)
            raise
        self.stats["accepted"] += 1
        future.add_done_callback(self._release)
        return future

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def _release(self, _: Future[T] | None) -> None:
        with self._lock:
            self._taken -= 1
            self.stats["done"] += 1

    def close(self) -> None:
        """Drop what is waiting and wait for what is running (threads cannot be cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


def _passwords() -> BoundedPool:
    # One argon2 check at a time already uses both cores of a small machine.
    return BoundedPool("passwords", workers=1, waiting=8, nice=10)


def _lookups() -> BoundedPool:
    # A made-up cookie or bearer token costs a store read (~1 ms); a flood of them waits here.
    return BoundedPool("lookups", workers=1, waiting=64, nice=5)


def _exports() -> BoundedPool:
    # Each worker holds a store connection while it reads; the alarm path needs the rest.
    # Niced although an export is Python holding the GIL (a descheduled holder makes the
    # loop wait too): at nice 0 the SOS path was no better, pair by pair, and its worst
    # cases worse (docs/performance.md, "pools"; `python -m benchmarks pools`).
    return BoundedPool("exports", workers=1, waiting=4, nice=10)


@dataclass
class WorkPools:
    """The pools the HTTP side uses; built with the container, closed before the store."""

    passwords: BoundedPool = field(default_factory=_passwords)
    lookups: BoundedPool = field(default_factory=_lookups)
    exports: BoundedPool = field(default_factory=_exports)

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            pool.name: {**pool.stats, "taken": pool.taken, "capacity": pool.capacity}
            for pool in (self.passwords, self.lookups, self.exports)
        }

    def close(self) -> None:
        for pool in (self.passwords, self.lookups, self.exports):
            pool.close()
