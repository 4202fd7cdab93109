"""Every background loop runs under one supervisor: a loop that fails is logged with its
traceback and started again, with backoff, without anyone restarting the process.

A loop that ends on an exception is a silent outage (a stopped scheduler sends no
tier 2, no reminder, no overdue step). So each loop is a coroutine function given
its `LoopState`; it calls `state.beat()` after each successful round, which is what
`/api/v1/health` reports as the loop's last good tick. The supervisor itself is
owned by the aiohttp cleanup context: `stop()` cancels every loop and awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.logs import get_logger

log = get_logger(__name__)

FIRST_DELAY = 0.5
"""Wait before the first restart: long enough not to spin, short next to an escalation step."""
MAX_DELAY = 2.0
"""Doubling stops here. A loop that is down delays alarms, so after the store comes back a
loop must be running again within about one scheduler interval, not after minutes."""
HEALTHY_AFTER = 30.0
"""A run that lasted this long counts as healthy: the next failure starts from FIRST_DELAY."""


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass
class LoopState:
    """What health says about one loop. Times are real (monotonic and wall), not the
    application's clock: an operator asks how long ago, in seconds they lived through."""

    name: str
    stale_after: float | None
    """A loop that beats: seconds without a beat that mean it is not working. None for a
    loop that only waits for work (the gateway), which has nothing to beat about."""
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = _wall
    running: bool = False
    restarts: int = 0
    started: float | None = None
    last_beat: float | None = None
    last_beat_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    beats: int = 0
    failing_since: float | None = None
    """When the current run of failures began (monotonic); None while the loop is well."""

    def beat(self) -> None:
        """Call after each round that did its work."""
        self.last_beat = self.monotonic()
        self.last_beat_at = self.wall()
        self.beats += 1
        if self.consecutive_failures:
            self._recovered()
        self.consecutive_failures = 0

    def _recovered(self) -> None:
        """Say so when a failing loop works again: the log of an outage showed each loop's
        failures and restarts, and then nothing, so whoever read it at 2 am could not tell
        which loops had come back, or when, without polling health."""
        since = self.failing_since
        down = None if since is None else self.monotonic() - since
        log.info(
            "loop_recovered",
            loop=self.name,
            failures=self.consecutive_failures,
            failing_for_s=None if down is None else round(down, 1),
            last_error=self.last_error,
        )
        self.failing_since = None

    def beat_age(self) -> float | None:
        """Seconds since the last beat, or since the loop started if it never beat."""
        since = self.last_beat if self.last_beat is not None else self.started
        return None if since is None else max(0.0, self.monotonic() - since)

    def problem(self) -> str | None:
        """What an operator should know, in a sentence; None when the loop is well."""
        age = self.beat_age()
        stale = self.stale_after is not None and age is not None and age > self.stale_after
        if not self.running:
            text = f"loop {self.name} is not running (waiting to restart after: {self.last_error})"
            return f"{text}; no successful tick for {age:.1f} s" if stale else text
        if stale:
            what = "no successful tick" if self.last_beat is not None else "no tick yet"
            detail = f"; last error: {self.last_error}" if self.consecutive_failures else ""
            return f"loop {self.name}: {what} for {age:.1f} s{detail}"
        return None

    def report(self) -> dict[str, Any]:
        age = self.beat_age()
        return {
            "ok": self.problem() is None,
            "running": self.running,
            "last_tick": self.last_beat_at.isoformat() if self.last_beat_at else None,
            "last_tick_age_s": None if age is None else round(age, 3),
            "stale_after_s": self.stale_after,
            "ticks": self.beats,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "failing": self.consecutive_failures > 0,
            "restarts": self.restarts,
        }


Loop = Callable[[LoopState], Awaitable[None]]


def _describe(exc: BaseException) -> str:
    """One line for health; a task group's failure names what failed inside it. Whitespace
    is folded: psycopg's "connection refused" spans three lines, and a health reason or a
    log field with "\n\t" in it is one sentence no longer."""
    if isinstance(exc, BaseExceptionGroup):
        inner = "; ".join(_describe(e) for e in exc.exceptions)
        return f"{type(exc).__name__}: {inner}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


@dataclass
class Supervisor:
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    healthy_after: float = HEALTHY_AFTER
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = _wall
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    loops: dict[str, LoopState] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        loop: Loop,
        *,
        stale_after: float | None = None,
        first_delay: float | None = None,
        max_delay: float | None = None,
    ) -> LoopState:
        """Run `loop(state)` until `stop()`, restarting it whenever it raises or returns.

        `first_delay` and `max_delay` override the supervisor's backoff for this loop: the
        scheduler must be back within one of its intervals after the store is, and a
        doubling up to 2 s let its first good tick come up to 2 s after that."""
        if name in self._tasks:
            raise ValueError(f"a loop named {name!r} is already supervised")
        state = LoopState(name, stale_after, monotonic=self.monotonic, wall=self.wall)
        self.loops[name] = state
        self._tasks[name] = asyncio.get_running_loop().create_task(
            self._supervise(
                state,
                loop,
                self.first_delay if first_delay is None else first_delay,
                self.max_delay if max_delay is None else max_delay,
            ),
            name=f"supervised-{name}",
        )
        return state

    async def _supervise(
        self, state: LoopState, loop: Loop, first_delay: float, max_delay: float
    ) -> None:
        delay = first_delay
        while True:
            state.running = True
            state.started = self.monotonic()
            try:
                await loop(state)
            except asyncio.CancelledError:
                state.running = False
                raise
            except Exception as exc:
                self._failed(state, _describe(exc), exc)
            else:
                # A supervised loop is meant to run forever: returning is a fault too.
                self._failed(state, "the loop returned", None)
            state.running = False
            if self.monotonic() - state.started >= self.healthy_after:
                delay = first_delay
            log.info("loop_restarting", loop=state.name, restart_in=delay, restarts=state.restarts)
            await self.sleep(delay)
            delay = min(delay * 2, max_delay)
            state.restarts += 1

    def _failed(self, state: LoopState, error: str, exc: BaseException | None) -> None:
        repeated = state.consecutive_failures > 0 and error == state.last_error
        state.last_error = error
        state.last_error_at = self.wall()
        if not state.consecutive_failures:
            state.failing_since = self.monotonic()
        state.consecutive_failures += 1
        if repeated:
            # The same fault again (the store is still down): one line, not another traceback.
            log.warning(
                "loop_still_failing",
                loop=state.name,
                error=error,
                failures=state.consecutive_failures,
            )
        elif exc is not None:
            log.exception("loop_failed", loop=state.name, error=error, exc_info=exc)
        else:
            log.error("loop_failed", loop=state.name, error=error)

    def problems(self) -> list[str]:
        return [p for state in self.loops.values() if (p := state.problem()) is not None]

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: state.report() for name, state in self.loops.items()}

    async def stop(self) -> None:
        """Cancel every loop and wait for each to end (the cleanup context's duty)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
