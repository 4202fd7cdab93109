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
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from projections.projector import Change
from projections.store import ViewStore
from service.adapters.arc.dc09 import Answer, SiaEvent
from service.adapters.arc.link import ANSWER_WITHIN
from service.application import arc
from service.application.lonewatch import Lonewatch
from service.domain.alerts.arc import ALARM_CODES, UNREACHABLE_AFTER
from service.logs import get_logger
from service.workers.arc_links import ArcLinks, LinkHealth
from service.workers.arc_supervision import ArcSupervision, Held
from service.workers.recording import Recorder
from service.workers.supervisor import LoopState

log = get_logger(__name__)

BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Waits between tries of one message; the last repeats until the ARC answers ACK. Short:
an alarm waits at most this long after the ARC is back (a try to a silent host takes
ANSWER_WITHIN on top), and a frame is small."""
SUPERVISION = 60.0
"""Seconds between supervision polls when the school's `arc:` names no `supervision`."""
RECORD_RETRY_MAX = 1.0
TOLD_KINDS = frozenset(kind.value for kind in ALARM_CODES)
"""Only these alerts are looked at (the use case decides the rest, off the loop)."""


@dataclass(frozen=True)
class ArcTiming:
    """How patient the sender is (tests make it quick): waits between tries, how long
    without an ACK before `arc_unreachable`, how long to wait for an answer, how often
    to poll."""

    backoff: Sequence[float] = BACKOFF
    unreachable_after: float = UNREACHABLE_AFTER
    answer_within: float = ANSWER_WITHIN
    supervision: float = SUPERVISION


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
        self.views = views
        self.backoff = tuple(backoff)
        self.unreachable_after = unreachable_after
        self.links = ArcLinks(app.clock.now, answer_within)
        self.record = Recorder(
            refused="arc_record_refused", failed="arc_record_failed", retry_max=RECORD_RETRY_MAX
        )
        self.supervision = ArcSupervision(
            app,
            views,
            self.links,
            self.record,
            backoff=backoff,
            unreachable_after=unreachable_after,
            supervision=supervision,
            lease=lease,
        )
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self.acknowledged = 0

    # -- what health reads ------------------------------------------------------------

    @property
    def health(self) -> dict[str, LinkHealth]:
        return self.links.health

    def problems(self) -> list[str]:
        return self.links.problems()

    def report(self) -> dict[str, Any]:
        return {
            "sending": len(self._inflight),
            "acknowledged": self.acknowledged,
            "links": self.links.report(),
        }

    async def supervise(self, state: LoopState, tick: float = 1.0) -> None:
        """The supervised loop of polls (service/workers/arc_supervision.py)."""
        await self.supervision.supervise(state, tick)

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
            order = await self.record(
                arc.request, self.app, alert_id, resolved=resolved, location=location
            )
            if order is not None and not order.delivered:
                await self.deliver(order)

        self._track(key, go())

    async def start(self) -> None:
        """Send again whatever a previous run left unacknowledged."""
        docs = await asyncio.to_thread(self.views.find, "arc", states=["sending"], limit=10_000)
        orders = await self.record(arc.pending, self.app, [UUID(d["id"]) for d in docs])
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
        link = self.links.link(order.school, order.arc)
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
                health = self.links.saw(order.school, exchange)
                if watch is not None:
                    watch.error = health.error or ""
                await self.record(
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
                        await self.record(
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

    async def stop(self) -> None:
        tasks = [*self._inflight.values(), *self.supervision.polls.values()]
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
        raised = await self.sender.record(
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
