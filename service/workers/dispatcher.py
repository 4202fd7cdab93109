"""The outbox dispatcher: sends every requested notification, records what happened.

Work comes from the notification view (so a restart finds what was requested
and not yet sent) and from live changes (so an SOS goes out within milliseconds).
Each notification's tries, retries and final outcome are service/workers/notification_tries.py's:
a failure falls back to the other channel (SMS to call, call to SMS) and, when that fails
too, raises a `notification_failed` alert: nothing is dropped silently.

With several processes on one store, only the holder of the outbox lease sends
(service/workers/leadership.py): the others record the requests and leave the sending to
it (an alarm's, handed over at once).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from projections.projector import Change
from projections.store import ViewStore
from service.adapters.alarm_priority import AlarmPriority
from service.adapters.notifiers.base import Notifier
from service.application import outbox
from service.application.unit_of_work import UnitOfWork
from service.domain.alerts.notifications import Notification
from service.logs import get_logger
from service.workers.notification_tries import DEFAULT_BACKOFF, NotificationTries, SendingRight
from service.workers.supervisor import LoopState

log = get_logger(__name__)

SWEEP_EVERY = 5.0
"""How often the views are searched for requested notifications nobody is sending."""
SENDERS = frozenset({"sms", "voice"})
FINISHED_REMEMBERED = 10_000


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
        self.views = views
        self.notifier = notifier
        self.tries = NotificationTries(
            app,
            notifier,
            backoff=backoff,
            lease=lease,
            on_first_request=on_first_request,
            on_outcome=on_outcome,
        )
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

    @property
    def sent(self) -> int:
        return self.tries.sent

    @property
    def failed(self) -> int:
        return self.tries.failed

    @property
    def sending(self) -> int:
        """Notifications this process is sending now (tries and waits between them)."""
        return len(self._inflight)

    def is_sending(self, notification_id: str) -> bool:
        return notification_id in self._inflight

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
                await self.tries.record(outbox.mark_unconfirmed, self.app, UUID(doc["id"]))
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

    async def _deliver(self, doc: dict[str, Any]) -> None:
        key = doc["id"]
        if not await self.tries.deliver(doc, lambda: self._first_try_recorded(key)):
            self._left.add(key)

    async def stop(self) -> None:
        tasks = [*self._inflight.values(), *self._handing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
