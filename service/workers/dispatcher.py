"""The outbox dispatcher: sends every requested notification, records what happened.

Work comes from the notification view (so a restart finds what was requested
and not yet sent) and from live changes (so an SOS goes out within milliseconds).
A failed try is retried with backoff; the last failure is recorded as final,
which falls back to the other channel (SMS to call, call to SMS) and, when that
fails too, raises a `notification_failed` alert: nothing is dropped silently. A
number the provider refuses for good (invalid, STOP) is not retried: the refusal
is recorded at once and the ladder moves on (service.application.outbox.record_refused).
Each try is recorded before it is made (Twilio has no idempotency key).

With several processes on one store, only the holder of the outbox lease sends
(service/workers/leadership.py): the others record the requests and leave the sending to
it. Its `fence` is asked just before each try, and a try that follows one made before a
takeover waits out the designed backoff from that try's record, not from the takeover.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from projections.projector import Change
from projections.store import ViewStore
from service.adapters.alarm_priority import AlarmPriority
from service.adapters.notifiers.base import NotificationError, Notifier
from service.application import outbox
from service.application.unit_of_work import UnitOfWork
from service.domain.alerts.notifications import Notification
from service.domain.errors import DomainError
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

DEFAULT_BACKOFF: tuple[float, ...] = (1.0, 4.0, 15.0)
RECORD_RETRY_MAX = 0.5
"""Longest wait between tries to record while the store is down: once it is back, a
notification's next step (its first try: the SMS of an SOS) is recorded within about this
long, well inside issue 10's 2 s from the store being back."""
SWEEP_EVERY = 5.0
"""How often the views are searched for requested notifications nobody is sending."""
SENDERS = frozenset({"sms", "voice"})
FINISHED_REMEMBERED = 10_000


class SendingRight(Protocol):
    """The outbox lease as the dispatcher needs it (service.workers.leadership.HeldLease)."""

    def held(self) -> bool: ...
    def fence(self) -> bool: ...


class Dispatcher:
    def __init__(
        self,
        app: UnitOfWork,
        views: ViewStore,
        notifier: Notifier,
        *,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        priority: AlarmPriority | None = None,
        on_first_request: Callable[[str], None] | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
        lease: SendingRight | None = None,
        hand_over: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """`on_first_request` (a notification's id, just before its first request) and
        `on_outcome` (channel, outcome: after each try's result is recorded) are the
        metrics' observers (service/workers/metrics.py). `lease`: the outbox lease when
        several processes may share the store (None: this process always sends);
        `hand_over`: how an alarm's notifications recorded here reach the holder at once
        (service/adapters/store_notices.py)."""
        self.app = app
        self.lease = lease
        self.hand_over = hand_over
        self._handing: set[asyncio.Task[None]] = set()
        self.on_first_request = on_first_request
        self.on_outcome = on_outcome
        self.views = views
        self.notifier = notifier
        self.backoff = tuple(backoff)
        self.priority = priority
        """Shared with the gateway: an alarm's notification is under way there until its
        first try is recorded (that record waits at the store's lock like any write)."""
        self._urgent: set[str] = set()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        # Finished here; the view may still say "requested" for a moment (it lags the
        # store), and that must not send the message a second time.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._left: set[str] = set()
        """Given up here because another process holds the outbox now: not finished."""
        self.sent = 0
        self.failed = 0

    @property
    def sending(self) -> int:
        """Notifications this process is sending now (tries and waits between them)."""
        return len(self._inflight)

    def is_sending(self, notification_id: str) -> bool:
        return notification_id in self._inflight

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    async def start(self) -> None:
        """Send whatever was requested and not finished before the last stop.

        A try that had started and has no recorded result may have reached Twilio (the
        crash came between its answer and our record): it is marked unconfirmed, never
        resent blindly; its status callback settles it, and the ladder keeps reminding.

        Only the holder of the outbox does this (at the start of each term): a try in
        flight at another process is that process's to finish.
        """
        if not self.may_send():
            return
        pending = await asyncio.to_thread(self.views.find, "notification", states=["requested"])
        if pending:
            log.info("notifications_resumed", count=len(pending))
        for doc in pending:
            if doc.get("in_flight") and doc["id"] not in self._inflight:
                # (One this process is trying now, its result waiting for the store to
                # come back, is its own: a new term after an outage must not settle it.)
                log.warning(
                    "notification_unconfirmed", notification=doc["id"], alert=doc["alert_id"]
                )
                await self._record(outbox.mark_unconfirmed, self.app, UUID(doc["id"]))
            else:
                self._submit(doc)

    async def sweep(self) -> int:
        """Send what the views say is requested and nobody here is sending: a live change
        missed while the store was down (or while the views' follower was restarting)
        must not leave a notification unsent. Returns how many were submitted.

        One in flight elsewhere is left alone (`start` settles those of a crashed run);
        two processes sweeping the same one are kept apart by `start_attempt`.
        """
        if not self.may_send():
            return 0
        pending = await asyncio.to_thread(
            self.views.find, "notification", states=["requested"], limit=10_000
        )
        submitted = 0
        for doc in pending:
            key = doc["id"]
            if doc.get("in_flight") or key in self._inflight or key in self._finished:
                continue
            self._submit(doc)
            if key in self._inflight:
                log.info("notification_swept", notification=key, alert=doc.get("alert_id"))
                submitted += 1
        return submitted

    async def sweep_forever(self, state: LoopState, every: float = SWEEP_EVERY) -> None:
        """The supervised loop around `sweep`."""
        while True:
            await self.sweep()
            state.beat()
            await asyncio.sleep(every)

    def on_changes(self, changes: list[Change]) -> None:
        for change in changes:
            doc = change.doc
            if (
                change.kind == "notification"
                and doc.get("state") == "requested"
                and not doc.get("in_flight")
            ):
                self._submit(doc)

    def submit_requested(self, notifications: Sequence[Notification]) -> None:
        """Just committed (an SOS): send now, without waiting for the views to catch up.

        Called on the loop while the gateway still holds the alarm under way, so the bulk
        lane stays out of the store's way until the first try of each is recorded too.
        In a process that does not hold the outbox they are handed to the one that does.
        """
        docs = [
            {
                "id": str(n.id),
                "alert_id": str(n.alert_id),
                "to": n.to,
                "body": n.body,
                "channel": n.channel.value,
                "attempts": n.attempts,
            }
            for n in notifications
        ]
        if not self.may_send():
            self._hand_over(docs)
            return
        self.submit_urgent(docs)

    def submit_urgent(self, docs: Sequence[dict[str, Any]]) -> None:
        """Send these now, first try before bulk work: an alarm's notifications, recorded
        here or handed over by the process that recorded them."""
        for doc in docs:
            key = str(doc["id"])
            fresh = key not in self._inflight
            self._submit(dict(doc))
            if self.priority is not None and fresh and key in self._inflight:
                self.priority.enter()
                self._urgent.add(key)

    def _hand_over(self, docs: list[dict[str, Any]]) -> None:
        if self.hand_over is None or not docs:
            return
        task = asyncio.get_running_loop().create_task(self._handing_over(docs))
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)

    async def _handing_over(self, docs: list[dict[str, Any]]) -> None:
        try:
            await asyncio.to_thread(self.hand_over, docs)  # type: ignore[arg-type]
        except Exception:
            # Not lost: the views bring them to the holder, only later.
            log.exception("notification_hand_over_failed", count=len(docs))

    def _first_try_recorded(self, key: str) -> None:
        if self.priority is not None and key in self._urgent:
            self._urgent.discard(key)
            self.priority.leave()

    def may_send(self) -> bool:
        return self.lease is None or self.lease.held()

    def _submit(self, doc: dict[str, Any]) -> None:
        key = doc["id"]
        if key in self._inflight or key in self._finished or doc.get("channel") not in SENDERS:
            return
        if not self.may_send():
            return  # the holder of the outbox lease sends it
        task = asyncio.get_running_loop().create_task(self._deliver(doc), name=f"notify-{key}")
        self._inflight[key] = task

        def done(task: asyncio.Task[None]) -> None:
            self._inflight.pop(key, None)
            self._first_try_recorded(key)  # cancelled, or failed before it
            if key in self._left:
                self._left.discard(key)
            elif not task.cancelled():
                self._finished[key] = None
                while len(self._finished) > FINISHED_REMEMBERED:
                    self._finished.popitem(last=False)

        task.add_done_callback(done)

    async def _send(self, doc: dict[str, Any]) -> str:
        if doc["channel"] == "voice":
            return await self.notifier.place_call(to=doc["to"], say=doc["body"], key=doc["id"])
        return await self.notifier.send_sms(to=doc["to"], body=doc["body"], key=doc["id"])

    async def _wait_out_earlier_backoff(self, doc: dict[str, Any], attempt: int) -> None:
        """A notification whose last try failed before this process took the outbox (or
        before a restart) is tried again when its backoff from that try is over."""
        if attempt < 1:
            return
        last = doc.get("changed_at") or doc.get("attempt_started_at")
        if not last:
            return
        due = (
            datetime.fromisoformat(last).timestamp()
            + self.backoff[min(attempt, len(self.backoff)) - 1]
        )
        wait = due - self.app.clock.now().timestamp()
        if wait > 0:
            log.info("notification_backoff_resumed", notification=doc["id"], wait_s=round(wait, 3))
            await asyncio.sleep(wait)

    async def _fenced(self, key: str) -> bool:
        """Does this process still hold the outbox? Asked of the store before each try;
        while the store cannot answer, asked again for as long as the lease lasts here.
        False leaves the notification to the holder (this process may take it up again
        in a later term: it is not counted as finished here)."""
        if self.lease is None:
            return True
        delay = 0.2
        while self.lease.held():
            try:
                if await asyncio.to_thread(self.lease.fence):
                    return True
                break
            except Exception:
                log.exception("notification_fence_failed", notification=key)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX)
        self._left.add(key)
        return False

    async def _deliver(self, doc: dict[str, Any]) -> None:
        notification_id = UUID(doc["id"])
        attempt = int(doc.get("attempts") or 0)
        await self._wait_out_earlier_backoff(doc, attempt)
        while True:
            if not await self._fenced(doc["id"]):
                # Another process took the outbox while this waited: it sends, with the
                # backoff counted from the record of the last try.
                log.info("notification_left_to_holder", notification=doc["id"])
                return
            # Recorded before the request: see `start` for what a crash here leaves behind.
            started = await self._record(outbox.start_attempt, self.app, notification_id)
            self._first_try_recorded(doc["id"])
            if not started:
                return  # done elsewhere, in flight elsewhere, or the alert was taken first
            attempt += 1
            if attempt == 1 and self.on_first_request is not None:
                self.on_first_request(doc["id"])
            try:
                provider_id = await self._send(doc)
            except NotificationError as exc:
                if exc.permanent:
                    log.warning(
                        "notification_refused",
                        notification=doc["id"],
                        alert=doc["alert_id"],
                        channel=doc["channel"],
                        code=exc.code,
                        refusal=exc.refusal,
                    )
                    await self._record(
                        outbox.record_refused,
                        self.app,
                        notification_id,
                        str(exc),
                        words=exc.refusal,
                        code=exc.code,
                    )
                    self.failed += 1
                    self._outcome(doc, "refused")
                    return
                final = not exc.retryable or attempt >= self.max_attempts
                log.warning(
                    "notification_attempt_failed",
                    notification=doc["id"],
                    alert=doc["alert_id"],
                    channel=doc["channel"],
                    attempt=attempt,
                    final=final,
                    error=str(exc),
                )
                await self._record(
                    outbox.record_failed, self.app, notification_id, str(exc), final=final
                )
                self._outcome(doc, "failed" if final else "retried")
                if final:
                    self.failed += 1
                    return
                await asyncio.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
                continue
            except Exception:
                # A fault in the sending itself (a bug, an error the notifier did not
                # wrap). The request may have reached the provider: settle it as a
                # crashed run's try is settled (see `start`), never resent blindly and
                # never forgotten: the ladder keeps reminding.
                log.exception(
                    "notification_send_crashed", notification=doc["id"], alert=doc["alert_id"]
                )
                await self._record(outbox.mark_unconfirmed, self.app, notification_id)
                self._outcome(doc, "unconfirmed")
                return
            await self._record(outbox.record_sent, self.app, notification_id, provider_id)
            self.sent += 1
            self._outcome(doc, "sent")
            log.info(
                "notification_sent",
                notification=doc["id"],
                alert=doc["alert_id"],
                channel=doc["channel"],
                to=doc["to"],
            )
            return

    def _outcome(self, doc: dict[str, Any], outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(str(doc["channel"]), outcome)

    async def _record(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        """Recording must not be lost either: keep trying while the store is unavailable."""
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(command, *args, **kwargs)
            except DomainError as exc:  # e.g. another process recorded the result first
                log.warning("notification_record_refused", reason=str(exc))
                return None
            except Exception:
                log.exception("notification_record_failed", command=command.__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX)

    async def stop(self) -> None:
        tasks = [*self._inflight.values(), *self._handing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
