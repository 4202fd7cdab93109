"""Health's read of the store (service/workers/health.py), on a thread of its own with a
time limit: while the database is down a store call can block for many seconds, and
health must still answer within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service.adapters.leases import LeaseRow

if TYPE_CHECKING:
    from projections.projector import Projector
    from projections.store import ViewStore

PROBE_TIMEOUT = 0.5
"""Seconds health waits for the store: short enough to answer within 1 s."""


@dataclass
class StoreReading:
    reachable: bool
    latency_s: float | None
    head: int | None = None
    position: int | None = None
    requested: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    leases: list[LeaseRow] = field(default_factory=list)


class StoreProbe:
    """One store read at a time, on its own thread. A read still running from an earlier
    request is waited for again rather than queued behind: a blocked store occupies one
    thread, never the shared default executor that the loops and handlers need."""

    def __init__(self, read: Callable[[], StoreReading], timeout: float = PROBE_TIMEOUT) -> None:
        self.read = read
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lw-health")
        self._pending: Future[StoreReading] | None = None
        self._pending_since = 0.0
        self.last_ok: StoreReading | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    async def probe(self) -> StoreReading:
        if self._pending is None or self._pending.done():
            self._pending = self._executor.submit(self._timed)
            self._pending_since = time.monotonic()
        pending = self._pending
        try:
            async with asyncio.timeout(self.timeout):
                reading = await asyncio.shield(asyncio.wrap_future(pending))
        except TimeoutError:
            waited = time.monotonic() - self._pending_since
            reading = StoreReading(
                reachable=False, latency_s=None, error=f"no answer within {waited:.1f} s"
            )
        if reading.reachable:
            self.last_ok = reading
        else:
            self.last_error = reading.error
            self.last_error_at = time.monotonic()
        return reading

    def _timed(self) -> StoreReading:
        started = time.monotonic()
        try:
            reading = self.read()
        except Exception as exc:
            return StoreReading(
                reachable=False,
                latency_s=round(time.monotonic() - started, 4),
                error=f"{type(exc).__name__}: {exc}",
            )
        reading.latency_s = round(time.monotonic() - started, 4)
        return reading

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def store_reader(
    projector: Projector,
    views: ViewStore,
    lease_rows: Callable[[], list[LeaseRow]] | None = None,
) -> Callable[[], StoreReading]:
    def read() -> StoreReading:
        return StoreReading(
            reachable=True,
            latency_s=None,
            head=projector.head(),
            position=projector.position(),
            requested=views.find("notification", states=["requested"], limit=10_000),
            leases=lease_rows() if lease_rows is not None else [],
        )

    return read
