"""The outbox dispatcher: sends every requested notification, records what happened.

Work comes from the notification view (so a restart finds what was requested
and not yet sent) and from live changes (so an SOS goes out within milliseconds).
A failed try is retried with backoff; the last failure is recorded as final,
which raises a `notification_failed` alert: nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from projections.projector import Change
from projections.store import ViewStore
from service.application import Lonewatch
from service.domain.errors import DomainError
from service.domain.notifications import Notification
from service.logs import get_logger
from service.notifiers.base import NotificationError, Notifier

log = get_logger(__name__)

DEFAULT_BACKOFF: tuple[float, ...] = (1.0, 4.0, 15.0)
FINISHED_REMEMBERED = 10_000


class Dispatcher:
    def __init__(
        self,
        app: Lonewatch,
        views: ViewStore,
        notifier: Notifier,
        *,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
    ) -> None:
        self.app = app
        self.views = views
        self.notifier = notifier
        self.backoff = tuple(backoff)
        self._inflight: dict[str, asyncio.Task[None]] = {}
        # Finished here; the view may still say "requested" for a moment (it lags the
        # store), and that must not send the message a second time.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.sent = 0
        self.failed = 0

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    async def start(self) -> None:
        """Send whatever was requested and not finished before the last stop."""
        pending = await asyncio.to_thread(self.views.find, "notification", states=["requested"])
        if pending:
            log.info("notifications_resumed", count=len(pending))
        for doc in pending:
            self._submit(doc)

    def on_changes(self, changes: list[Change]) -> None:
        for change in changes:
            if change.kind == "notification" and change.doc.get("state") == "requested":
                self._submit(change.doc)

    def submit_requested(self, notifications: Sequence[Notification]) -> None:
        """Just committed (an SOS): send now, without waiting for the views to catch up."""
        for n in notifications:
            self._submit(
                {
                    "id": str(n.id),
                    "alert_id": str(n.alert_id),
                    "to": n.to,
                    "body": n.body,
                    "channel": n.channel.value,
                    "attempts": n.attempts,
                }
            )

    def _submit(self, doc: dict[str, Any]) -> None:
        key = doc["id"]
        if key in self._inflight or key in self._finished or doc.get("channel") != "sms":
            return
        task = asyncio.get_running_loop().create_task(self._deliver(doc), name=f"notify-{key}")
        self._inflight[key] = task

        def done(task: asyncio.Task[None]) -> None:
            self._inflight.pop(key, None)
            if not task.cancelled():
                self._finished[key] = None
                while len(self._finished) > FINISHED_REMEMBERED:
                    self._finished.popitem(last=False)

        task.add_done_callback(done)

    async def _deliver(self, doc: dict[str, Any]) -> None:
        notification_id = UUID(doc["id"])
        attempt = int(doc.get("attempts") or 0)
        while True:
            attempt += 1
            try:
                provider_id = await self.notifier.send_sms(
                    to=doc["to"], body=doc["body"], key=doc["id"]
                )
            except NotificationError as exc:
                final = not exc.retryable or attempt >= self.max_attempts
                log.warning(
                    "notification_attempt_failed",
                    notification=doc["id"],
                    alert=doc["alert_id"],
                    attempt=attempt,
                    final=final,
                    error=str(exc),
                )
                await self._record(
                    self.app.record_notification_failed, notification_id, str(exc), final=final
                )
                if final:
                    self.failed += 1
                    return
                await asyncio.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
                continue
            await self._record(self.app.record_notification_sent, notification_id, provider_id)
            self.sent += 1
            log.info(
                "notification_sent", notification=doc["id"], alert=doc["alert_id"], to=doc["to"]
            )
            return

    async def _record(self, command: Any, *args: Any, **kwargs: Any) -> None:
        """Recording must not be lost either: keep trying while the store is unavailable."""
        delay = 0.2
        while True:
            try:
                await asyncio.to_thread(command, *args, **kwargs)
                return
            except DomainError as exc:  # e.g. another process recorded the result first
                log.warning("notification_record_refused", reason=str(exc))
                return
            except Exception:
                log.exception("notification_record_failed", command=command.__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
