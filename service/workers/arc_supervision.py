"""Supervision of each school's ARC link: a `NULL` poll every `supervision` seconds (the
school's `arc:` entry may name its own), tried with backoff until the ARC answers ACK. A
silence of UNREACHABLE_AFTER raises the link's red `arc_unreachable` alert; the next ACK
closes it, saying so (service/application/arc.py records both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from projections.store import ViewStore
from service.application import arc
from service.application.lonewatch import Lonewatch
from service.logs import get_logger
from service.workers.arc_links import ArcLinks
from service.workers.recording import Recorder
from service.workers.supervisor import LoopState

log = get_logger(__name__)

SCHOOLS_EVERY = 10.0
"""How often the views are read for schools that have (or no longer have) an ARC."""


class Held(Protocol):
    def held(self) -> bool: ...


class ArcSupervision:
    """Polls the ARCs of the schools that have one; only the outbox holder polls."""

    def __init__(
        self,
        app: Lonewatch,
        views: ViewStore,
        links: ArcLinks,
        record: Recorder,
        *,
        backoff: Sequence[float],
        unreachable_after: float,
        supervision: float,
        lease: Held | None,
    ) -> None:
        self.app = app
        self.views = views
        self.links = links
        self.record = record
        self.backoff = tuple(backoff)
        self.unreachable_after = unreachable_after
        self.supervision = supervision
        self.lease = lease
        self.polls: dict[str, asyncio.Task[None]] = {}
        self._next_poll: dict[str, float] = {}

    async def supervise(self, state: LoopState, tick: float = 1.0) -> None:
        """The supervised loop: polls each school's ARC when due, each on its own task."""
        schools: dict[str, dict[str, Any]] = {}
        read_at = 0.0
        while True:
            if self.lease is not None and not self.lease.held():
                state.beat()  # another process polls the ARCs
                await asyncio.sleep(tick)
                continue
            if time.monotonic() - read_at >= SCHOOLS_EVERY or not read_at:
                schools = await self.record(self._schools_with_arc) or {}
                read_at = time.monotonic()
                for gone in set(self.links.health) - set(schools):
                    self.links.forget(gone)
            now = time.monotonic()
            for school, config in schools.items():
                running = self.polls.get(school)
                if (running is None or running.done()) and self._next_poll.get(school, 0.0) <= now:
                    self.polls[school] = asyncio.get_running_loop().create_task(
                        self._poll(school, config), name=f"arc-poll-{school}"
                    )
            state.beat()
            await asyncio.sleep(tick)

    def _schools_with_arc(self) -> dict[str, dict[str, Any]]:
        found = {}
        for doc in self.views.find("school", limit=10_000):
            if doc.get("arc"):
                config = arc.school_arc(self.app, doc["id"])
                if config is not None:
                    found[doc["id"]] = config
        return found

    async def _poll(self, school: str, config: dict[str, Any]) -> None:
        """One supervision poll, tried with backoff until ACK; a silence of
        UNREACHABLE_AFTER raises the link's `arc_unreachable` alert."""
        link = self.links.link(school, config)
        every = float(config.get("supervision") or self.supervision)
        sequence = link.new_sequence()
        started = time.monotonic()
        attempt = 0
        corrected = False
        while True:
            attempt += 1
            exchange = await link.send(None, sequence)
            health = self.links.saw(school, exchange)
            if exchange.acknowledged:
                if health.down_alert is not None:
                    down, health.down_alert = health.down_alert, None
                    await self.record(
                        arc.arc_answered_again,
                        self.app,
                        down,
                        what="a supervision poll was acknowledged",
                    )
                break
            log.warning(
                "arc_poll_failed", school=school, attempt=attempt, answer=exchange.describe()
            )
            if (
                health.down_alert is None
                and health.failing_since is not None
                and time.monotonic() - started >= self.unreachable_after
            ):
                health.down_alert = await self.record(
                    arc.raise_link_down,
                    self.app,
                    school,
                    since=health.failing_since,
                    error=health.error or "",
                )
            if (
                exchange.reply is not None
                and exchange.reply.receiver_time is not None
                and not corrected
            ):
                corrected = True
                continue
            await asyncio.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
        self._next_poll[school] = time.monotonic() + every
