"""Timers derived from recorded events.

Projections write `timer` documents (due time, action, subject) when an event
creates a deadline, and mark them done or cancelled when a later event settles
it. The scheduler fires the due ones; each action records, as an event, the
fact that the deadline passed, so replay shows exactly when the system noticed.
Because timers live in the views, they survive a restart: nothing is held only
in memory.

The timer document's shape and the action's signature: projections/timers.py.
Actions are synchronous application commands and must be idempotent: a timer
stays pending until the projection has applied the event its action recorded,
so it can be seen as due more than once.

With several processes on one store only the holder of the timers lease fires
(service/workers/leadership.py); a new holder catches the views up before its first
round, so a timer its predecessor fired is seen settled, not due.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from projections.store import ViewStore
from projections.timers import TimerAction
from service.clock import Clock
from service.domain.errors import DomainError
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

REFIRE_AFTER_SECONDS = 5.0
WAKE_SLACK_SECONDS = 0.005
"""Added to the wait for the next timer: asyncio may end a wait a hair early, and a tick
that comes before the due time finds nothing to fire and has to wait again."""
MIN_WAIT_SECONDS = 0.02
"""The shortest wait between two rounds that a timer asks for (a woken round is not held
back): timers due a few milliseconds apart fire in one round, not one query each."""


@dataclass(frozen=True)
class Failing:
    action: str
    error: str
    since: float
    """time.monotonic() of the first failure in this run of failures."""


class FiringRight(Protocol):
    """The timers lease as the scheduler needs it (service.workers.leadership.HeldLease)."""

    def held(self) -> bool: ...
    def fence(self) -> bool: ...


class Scheduler:
    def __init__(
        self,
        views: ViewStore,
        clock: Clock,
        actions: dict[str, TimerAction] | None = None,
        *,
        lease: FiringRight | None = None,
    ) -> None:
        """`lease`: the timers lease when several processes may share the store (None:
        this process always fires)."""
        self.views = views
        self.lease = lease
        self.clock = clock
        self.actions: dict[str, TimerAction] = dict(actions or {})
        self._fired: dict[str, float] = {}
        self.fired = 0
        self.failing: dict[str, Failing] = {}
        """Due timers whose action raised, until they fire or are settled: for health
        (a step that did not happen when due, whatever the loop's own beat says)."""
        self.next_due: datetime | None = None
        """The earliest pending timer not yet due at the last tick: `run` wakes for it."""
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, action: str, handler: TimerAction) -> None:
        self.actions[action] = handler

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """The pending timers due at `now`, earliest first; notes the next one after `now`."""
        pending = self.views.find("timer", states=["pending"], limit=100_000)
        due: list[tuple[datetime, dict[str, Any]]] = []
        later: datetime | None = None
        for timer in pending:
            at = datetime.fromisoformat(timer["due_at"])
            if at <= now:
                due.append((at, timer))
            elif later is None or at < later:
                later = at
        self.next_due = later
        return [t for _, t in sorted(due, key=lambda pair: pair[0])]

    def wait_before_next_round(self, interval: float) -> float:
        """Seconds until the next round: at the next timer's due time, never later than
        `interval` (which still bounds a round, for timers written without a wake).

        A step due between two rounds used to wait for the next one, up to a whole
        interval late (issue 10: no step later than one interval after it was due)."""
        if self.next_due is None:
            return interval
        until = (self.next_due - self.clock.now()).total_seconds() + WAKE_SLACK_SECONDS
        return min(interval, max(MIN_WAIT_SECONDS, until))

    def tick(self) -> list[str]:
        """Fire every due timer once; returns the ids fired. Safe to call from any thread.
        Nothing fires while another process holds the timers lease; the store is still
        read, so that a scheduler that cannot reach it is seen stale on health, holder or not."""
        now = self.clock.now()
        if self.lease is not None and not self.lease.held():
            self.due(now)
            self.next_due = None
            return []
        fired: list[str] = []
        wall = time.monotonic()
        self._fired = {k: v for k, v in self._fired.items() if wall - v < REFIRE_AFTER_SECONDS}
        due = self.due(now)
        due_ids = {t["id"] for t in due}
        self.failing = {k: v for k, v in self.failing.items() if k in due_ids}
        fenced = self.lease is None
        for timer in due:
            if timer["id"] in self._fired:
                continue  # fired already; its event is not yet in the views
            if self.lease is not None and not self.lease.held():
                break  # lost while firing: the new holder fires the rest
            if not fenced:  # asked of the store once per round, when something is due
                if self.lease is None or not self.lease.fence():
                    break
                fenced = True
            handler = self.actions.get(timer["action"])
            if handler is None:
                log.error("timer_action_unknown", timer=timer["id"], action=timer["action"])
                continue
            self._fired[timer["id"]] = wall
            try:
                handler(timer, now)
            except DomainError as exc:
                log.info("timer_not_needed", timer=timer["id"], reason=str(exc))
                self.failing.pop(timer["id"], None)
                continue
            except Exception as exc:
                log.exception("timer_failed", timer=timer["id"], action=timer["action"])
                before = self.failing.get(timer["id"])
                self.failing[timer["id"]] = Failing(
                    timer["action"],
                    f"{type(exc).__name__}: {exc}",
                    before.since if before else wall,
                )
                continue
            self.failing.pop(timer["id"], None)
            fired.append(timer["id"])
            self.fired += 1
        return fired

    def forget_fired(self) -> None:
        """Tests in simulated time call this after catching the views up."""
        self._fired.clear()

    def wake(self) -> None:
        """Tick now rather than at the next round (a timer was written already due).
        Safe from any thread; a no-op before `run` has started."""
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
                self._loop.call_soon_threadsafe(self._wake.set)

    async def run(
        self,
        interval: float = 1.0,
        after_tick: Callable[[], Any] | None = None,
        state: LoopState | None = None,
    ) -> None:
        """Tick when the next pending timer is due (at most `interval` seconds apart), or at
        once when woken, until cancelled.

        A tick that fails (the store is down) raises out of here: the supervisor logs
        it and starts the loop again. Timers live in the views, so nothing is lost.
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()  # a wake during this tick means: tick again
            fired = await asyncio.to_thread(self.tick)
            if state is not None:
                state.beat()
            if fired and after_tick is not None:
                after_tick()
            # asyncio.timeout, not wait_for (see LiveViews.run).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wait_before_next_round(interval)):
                    await self._wake.wait()
