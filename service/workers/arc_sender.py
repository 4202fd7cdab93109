"""The sender to alarm receiving centres (ARCs): each red alert's SIA DC-09 message is sent
until the ARC answers ACK, and each school's link is polled (`NULL`) every `supervision`.

A NAK (the ARC finds our timestamp outside its window) or silence is retried with backoff,
a NAK that carries the receiver's clock at once with the clock corrected, as DC-09 has the
transmitter do. After UNREACHABLE_AFTER without an ACK a red `arc_unreachable` alert is
raised for the console; it is closed, saying so, when the ARC acknowledges again. Every
try and answer is recorded (service/application/arc.py), so the alert's timeline shows them,
and the link's state is what `/api/v1/health` reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from projections.projector import Change
from projections.store import ViewStore
from service.adapters.arc.dc09 import Answer, ArcAccount, SiaEvent
from service.adapters.arc.link import ANSWER_WITHIN, ArcLink, Endpoint, Exchange
from service.application import arc
from service.application.lonewatch import Lonewatch
from service.domain.alerts.arc import ALARM_CODES, UNREACHABLE_AFTER
from service.domain.errors import DomainError
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Waits between tries of one message; the last repeats until the ARC answers ACK. Short:
an alarm waits at most this long after the ARC is back (a try to a silent host takes
ANSWER_WITHIN on top), and a frame is small."""
SUPERVISION = 60.0
"""Seconds between supervision polls when the school's `arc:` names no `supervision`."""
SCHOOLS_EVERY = 10.0
"""How often the views are read for schools that have (or no longer have) an ARC."""
RECORD_RETRY_MAX = 1.0
TOLD_KINDS = frozenset(kind.value for kind in ALARM_CODES)
"""Only these alerts are looked at (the use case decides the rest, off the loop)."""
T = TypeVar("T")


@dataclass
class LinkHealth:
    """One school's ARC as health reports it: the last exchange's outcome."""

    url: str
    ok_at: datetime | None = None
    failing_since: datetime | None = None
    error: str | None = None
    tries: int = 0
    acks: int = 0
    down_alert: UUID | None = None

    def report(self) -> dict[str, Any]:
        return {
            "ok": self.failing_since is None,
            "url": self.url,
            "last_ack": self.ok_at.isoformat() if self.ok_at else None,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "error": self.error,
            "tries": self.tries,
            "acks": self.acks,
        }


@dataclass(frozen=True)
class ArcTiming:
    """How patient the sender is (tests make it quick): waits between tries, how long
    without an ACK before `arc_unreachable`, how long to wait for an answer, how often
    to poll."""

    backoff: Sequence[float] = BACKOFF
    unreachable_after: float = UNREACHABLE_AFTER
    answer_within: float = ANSWER_WITHIN
    supervision: float = SUPERVISION


class Held(Protocol):
    def held(self) -> bool: ...


class ArcSender:
    def __init__(
        self,
        app: Lonewatch,
        views: ViewStore,
        *,
        backoff: Sequence[float] = BACKOFF,
        unreachable_after: float = UNREACHABLE_AFTER,
        answer_within: float = ANSWER_WITHIN,
        supervision: float = SUPERVISION,
        lease: Held | None = None,
    ) -> None:
        """`lease`: the outbox lease when several processes share the store: only its
        holder tells the ARCs and polls them (None: this process always does)."""
        self.app = app
        self.lease = lease
        self.views = views
        self.backoff = tuple(backoff)
        self.unreachable_after = unreachable_after
        self.answer_within = answer_within
        self.supervision = supervision
        self.links: dict[str, tuple[tuple[Any, ...], ArcLink]] = {}
        self.health: dict[str, LinkHealth] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._next_poll: dict[str, float] = {}
        self.acknowledged = 0

    # -- links ------------------------------------------------------------------------

    def link(self, school: str, config: dict[str, Any]) -> ArcLink:
        """The school's link, made again when its `arc:` entry changed."""
        fingerprint = tuple(sorted((k, str(v)) for k, v in config.items()))
        known = self.links.get(school)
        if known is not None and known[0] == fingerprint:
            return known[1]
        made = ArcLink(
            Endpoint.parse(str(config["url"])),
            ArcAccount(
                account=str(config["account"]),
                receiver=str(config.get("receiver") or "R0"),
                prefix=str(config.get("prefix") or "L0"),
                key=config.get("key"),
            ),
            now=self.app.clock.now,
            answer_within=self.answer_within,
        )
        self.links[school] = (fingerprint, made)
        self.health.setdefault(school, LinkHealth(url=str(config["url"]))).url = str(config["url"])
        return made

    def _saw(self, school: str, exchange: Exchange) -> LinkHealth:
        health = self.health[school]
        health.tries += 1
        if exchange.acknowledged:
            health.acks += 1
            health.ok_at = self.app.clock.now()
            health.failing_since, health.error = None, None
        else:
            health.error = exchange.describe()
            if health.failing_since is None:
                health.failing_since = self.app.clock.now()
        return health

    def problems(self) -> list[str]:
        return [
            f"arc: {school}'s alarm receiving centre ({h.url}) has not acknowledged since "
            f"{h.failing_since:%H:%M:%S} UTC ({h.error})"
            for school, h in sorted(self.health.items())
            if h.failing_since is not None
        ]

    def report(self) -> dict[str, Any]:
        return {
            "sending": len(self._inflight),
            "acknowledged": self.acknowledged,
            "links": {school: h.report() for school, h in sorted(self.health.items())},
        }

    # -- alarms -----------------------------------------------------------------------

    def on_changes(self, changes: list[Change]) -> None:
        """A red alert raised, or resolved, is told to its school's ARC (if it has one:
        the use case decides, off the loop)."""
        for change in changes:
            if change.kind != "alert" or change.doc.get("kind") not in TOLD_KINDS:
                continue
            if change.event == "Alert.Raised":
                self.submit(
                    UUID(change.doc["id"]), resolved=False, location=change.doc.get("location")
                )
            elif change.event == "Alert.Resolved":
                self.submit(
                    UUID(change.doc["id"]), resolved=True, location=change.doc.get("location")
                )

    def submit(
        self, alert_id: UUID, *, resolved: bool, location: dict[str, Any] | None = None
    ) -> None:
        key = f"{alert_id}:{'restoral' if resolved else 'alarm'}"
        if key in self._inflight:
            return

        alarm = self._inflight.get(f"{alert_id}:alarm") if resolved else None

        async def go() -> None:
            if alarm is not None:  # the ARC hears the alarm before its restoral
                await asyncio.wait([alarm])
            order = await self._record(
                arc.request, self.app, alert_id, resolved=resolved, location=location
            )
            if order is not None and not order.delivered:
                await self.deliver(order)

        self._track(key, go())

    async def start(self) -> None:
        """Send again whatever a previous run left unacknowledged."""
        docs = await asyncio.to_thread(self.views.find, "arc", states=["sending"], limit=10_000)
        orders = await self._record(arc.pending, self.app, [UUID(d["id"]) for d in docs])
        for order in orders or []:
            log.info("arc_message_resumed", message=str(order.message_id), code=order.code)
            self._track(f"resume:{order.message_id}", self.deliver(order))

    def _track(self, key: str, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                # A fault in the sending itself (a bug): never silent. The message stays
                # unacknowledged in the views, so the next start sends it again.
                log.exception("arc_send_crashed", work=key)

        task = asyncio.get_running_loop().create_task(run(), name=f"arc-{key}")
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))

    async def deliver(self, order: arc.ArcOrder) -> None:
        """Send until ACK; raise `arc_unreachable` once if that takes UNREACHABLE_AFTER."""
        link = self.link(order.school, order.arc)
        event = SiaEvent(order.code, order.zone, tuple((i, v) for i, v in order.extended))
        sequence = link.new_sequence()
        attempt = order.tries
        unreachable = order.unreachable_alert
        watch: Watch | None = None
        if unreachable is None:
            waited = max(0.0, (self.app.clock.now() - order.requested_at).total_seconds())
            watch = Watch(self, order.message_id, self.unreachable_after - waited)
        corrected = False
        try:
            while True:
                attempt += 1
                exchange = await link.send(event, sequence)
                health = self._saw(order.school, exchange)
                if watch is not None:
                    watch.error = health.error or ""
                await self._record(
                    arc.record_try,
                    self.app,
                    order.message_id,
                    attempt=attempt,
                    sequence=sequence,
                    answer=exchange.reply.answer.value if exchange.reply else None,
                    acknowledged=exchange.acknowledged,
                    detail=exchange.describe(),
                )
                if exchange.acknowledged:
                    self.acknowledged += 1
                    log.info(
                        "arc_acknowledged",
                        message=str(order.message_id),
                        code=order.code,
                        tries=attempt,
                    )
                    if watch is not None:
                        unreachable = await watch.settle()
                    if unreachable is not None:
                        await self._record(
                            arc.arc_answered_again,
                            self.app,
                            unreachable,
                            what=f"{order.code} acknowledged on try {attempt}",
                        )
                    return
                log.warning(
                    "arc_not_acknowledged",
                    message=str(order.message_id),
                    attempt=attempt,
                    answer=exchange.describe(),
                )
                nak_with_clock = (
                    exchange.reply is not None
                    and exchange.reply.answer is Answer.NAK
                    and exchange.reply.receiver_time is not None
                )
                if nak_with_clock and not corrected:
                    corrected = True  # the link took the receiver's clock: try again now
                    continue
                await asyncio.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
        finally:
            if watch is not None:
                watch.cancel()

    # -- supervision ------------------------------------------------------------------

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
                schools = await self._record(self._schools_with_arc) or {}
                read_at = time.monotonic()
                for gone in set(self.health) - set(schools):
                    self.health.pop(gone, None)
                    self.links.pop(gone, None)
            now = time.monotonic()
            for school, config in schools.items():
                running = self._polls.get(school)
                if (running is None or running.done()) and self._next_poll.get(school, 0.0) <= now:
                    self._polls[school] = asyncio.get_running_loop().create_task(
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
        link = self.link(school, config)
        every = float(config.get("supervision") or self.supervision)
        sequence = link.new_sequence()
        started = time.monotonic()
        attempt = 0
        corrected = False
        while True:
            attempt += 1
            exchange = await link.send(None, sequence)
            health = self._saw(school, exchange)
            if exchange.acknowledged:
                if health.down_alert is not None:
                    down, health.down_alert = health.down_alert, None
                    await self._record(
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
                health.down_alert = await self._record(
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

    # -- plumbing ---------------------------------------------------------------------

    async def _record(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """A record must not be lost: keep trying while the store is unavailable."""
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(command, *args, **kwargs)
            except DomainError as exc:
                log.warning("arc_record_refused", reason=str(exc))
                return None
            except Exception:
                log.exception("arc_record_failed", command=getattr(command, "__name__", "?"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX)

    async def stop(self) -> None:
        tasks = [*self._inflight.values(), *self._polls.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Watch:
    """Raises the message's `arc_unreachable` alert once `after` seconds pass without an ACK.
    Once it has begun recording it is let finish (an alert half-raised is worse)."""

    def __init__(self, sender: ArcSender, message_id: UUID, after: float) -> None:
        self.sender = sender
        self.message_id = message_id
        self.error = ""
        self.recording = False
        self.task = asyncio.get_running_loop().create_task(self._run(max(0.0, after)))

    async def _run(self, after: float) -> UUID | None:
        await asyncio.sleep(after)
        self.recording = True
        raised = await self.sender._record(
            arc.raise_unreachable,
            self.sender.app,
            self.message_id,
            after_s=self.sender.unreachable_after,
            error=self.error or "no answer",
        )
        log.error("arc_unreachable", message=str(self.message_id), alert=str(raised))
        return raised

    async def settle(self) -> UUID | None:
        """The ACK came: the alert raised by then (if any); else none will be."""
        if self.recording or self.task.done():
            return await self.task
        self.task.cancel()
        return None

    def cancel(self) -> None:
        if not self.recording:
            self.task.cancel()
