"""Holding a role's lease: the outbox (sending) and the timers (firing), one process each.

`HeldLease` renews its lease every `RENEW_EVERY` seconds under the supervisor (a loop in
health like any other) and tells its role when it gains a new term and when it loses
one. The role asks `held()` (cheap, local) before it takes work and `fence()` (one query)
just before a step that must happen once (a notification's try), so a process that lost
its lease while it waited (a backoff, a stall) does not act on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from service.adapters.leases import RENEW_EVERY, SAFETY_MARGIN, Leases
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

OUTBOX = "outbox"
TIMERS = "timers"

Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class HeldLease:
    """One role's lease as this process sees it."""

    def __init__(
        self,
        leases: Leases,
        name: str,
        *,
        on_gained: Hook = _nothing,
        renew_every: float = RENEW_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`on_gained` runs once per new term, after `held()` turns true: catch the views
        up, resume the role's work."""
        self.leases = leases
        self.name = name
        self.renew_every = renew_every
        self._monotonic = monotonic
        self.token: int | None = None
        self._valid_until = 0.0
        self.on_gained = on_gained
        self.first_round = asyncio.Event()
        """Set after the first round (and its `on_gained`), whether or not it took the lease."""
        self.gained_at: float | None = None
        self._kept = False
        self._resumed: int | None = None
        """The term whose `on_gained` has run."""
        self.terms = 0
        """How many terms this process has held (1 for a process that never lost it)."""

    def held(self) -> bool:
        """Cheap and local while the loop (`keep`) renews it. A process whose loop is not
        running (a test or a command driving the parts by hand) asks the store when it
        needs to know, blocking: nobody else renews it for it."""
        if self._valid():
            return True
        if self._kept:
            return False
        try:
            self.round()
        except Exception:
            log.exception("lease_round_failed", lease=self.name)
            return False
        return self._valid()

    def _valid(self) -> bool:
        return self.token is not None and self._monotonic() < self._valid_until

    def fence(self) -> bool:
        """Blocking (one query on PostgreSQL): does the store still say our term is live?"""
        token = self.token
        if token is None or not self._valid():
            return False
        return self.leases.still_holds(self.name, token)

    def round(self) -> bool:
        """Blocking: take or renew once; True when a new term began (the caller runs
        `on_gained`)."""
        asked = self._monotonic()
        token = self.leases.hold(self.name)
        if token is None:
            if self.token is not None:
                log.warning("lease_lost", lease=self.name, holder=self.leases.holder)
            self.token = None
            return False
        self._valid_until = asked + self.leases.ttl - SAFETY_MARGIN
        if token == self.token:
            return False
        self.token = token
        self.gained_at = self._monotonic()
        self.terms += 1
        log.info("lease_gained", lease=self.name, term=token, holder=self.leases.holder)
        return True

    async def keep(self, state: LoopState) -> None:
        """The supervised loop: renew, and start a role's new term when one begins. A
        round that fails (the store is down) raises to the supervisor; meanwhile `held()`
        turns false by itself once the lease could have been taken by another."""
        self._kept = True
        while True:
            try:
                await asyncio.to_thread(self.round)
                # Also a term taken on demand before this loop began (see `held`).
                token = self.token
                if token is not None and token != self._resumed:
                    await self.on_gained()
                    self._resumed = token
            finally:
                self.first_round.set()
            state.beat()
            await asyncio.sleep(self.renew_every)

    async def release(self) -> None:
        """On a clean stop: let the next process take over at its next round."""
        token, self.token = self.token, None
        if token is not None:
            with contextlib.suppress(Exception):  # the store may be gone: it expires anyway
                await asyncio.to_thread(self.leases.release, self.name, token)

    def status(self) -> dict[str, Any]:
        """For health: do we hold it, in which term, since when (seconds)."""
        return {
            "held": self._valid(),
            "token": self.token,
            "held_for": None
            if self.gained_at is None or not self._valid()
            else round(self._monotonic() - self.gained_at, 1),
        }
