"""The tries of one notification: each recorded before it is made (Twilio has no
idempotency key), a failure retried with backoff and the last recorded as final (which
falls back to the other channel and, when that fails too, raises `notification_failed`),
a number the provider refuses for good (invalid, STOP) recorded at once and never retried
(service.application.outbox.record_refused).

Which notifications to try, and when, is the dispatcher's (service/workers/dispatcher.py).
With several processes on one store only the holder of the outbox lease sends: its
`fence` is asked just before each try, and a try that follows one made before a takeover
waits out the designed backoff from that try's record, not from the takeover.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from service.adapters.notifiers.base import NotificationError, Notifier
from service.application import outbox
from service.application.unit_of_work import UnitOfWork
from service.domain.errors import DomainError
from service.logs import get_logger
from service.workers.recording import FIRST_RETRY, Recorder

log = get_logger(__name__)

DEFAULT_BACKOFF: tuple[float, ...] = (1.0, 4.0, 15.0)
RECORD_RETRY_MAX = 0.5
"""Longest wait between tries to record while the store is down: once it is back, a
notification's next step (its first try: the SMS of an SOS) is recorded within about this
long, well inside issue 10's 2 s from the store being back."""


class _FenceFailed(Exception):
    """The store could not say whether this process still holds the outbox."""


class SendingRight(Protocol):
    """The outbox lease as the dispatcher needs it (service.workers.leadership.HeldLease)."""

    def held(self) -> bool: ...
    def fence(self) -> bool: ...


class NotificationTries:
    def __init__(
        self,
        app: UnitOfWork,
        notifier: Notifier,
        *,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        lease: SendingRight | None = None,
        on_first_request: Callable[[str], None] | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
    ) -> None:
        """The dispatcher's own arguments of the same names (service/workers/dispatcher.py)."""
        self.app = app
        self.notifier = notifier
        self.backoff = tuple(backoff)
        self.lease = lease
        self.on_first_request = on_first_request
        self.on_outcome = on_outcome
        self.record = Recorder(
            refused="notification_record_refused",
            failed="notification_record_failed",
            retry_max=RECORD_RETRY_MAX,
        )
        self.sent = 0
        self.failed = 0
        self.last_sent_at: float | None = None
        self.last_failed_try_at: float | None = None
        self.last_failed_try: str | None = None
        """When (time.monotonic) the last message was sent and the last try failed (a
        refusal of one number aside), and why: health tells a provider that is failing every
        try from a night when nothing was sent, while the tries are still being retried."""

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    async def deliver(self, doc: dict[str, Any], first_try_recorded: Callable[[], None]) -> bool:
        """Try until sent, refused, or failed for the last time. `first_try_recorded` is
        called once the first try's start is recorded (or found not to be needed). False:
        another process holds the outbox now and sends it (this one may take it up again in
        a later term: it is not finished here)."""
        notification_id = UUID(doc["id"])
        attempt = int(doc.get("attempts") or 0)
        await self._wait_out_earlier_backoff(doc, attempt)
        while True:
            # Fenced, then recorded before the request: see the dispatcher's `start` for
            # what a crash here leaves behind.
            started = await self._fenced_start(doc)
            if started is None:
                # Another process took the outbox while this waited: it sends, with the
                # backoff counted from the record of the last try.
                log.info("notification_left_to_holder", notification=doc["id"])
                return False
            first_try_recorded()
            if not started:
                return True  # done elsewhere, in flight elsewhere, or the alert was taken first
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
                    await self.record(
                        outbox.record_refused,
                        self.app,
                        notification_id,
                        str(exc),
                        words=exc.refusal,
                        code=exc.code,
                    )
                    self.failed += 1
                    self._outcome(doc, "refused")
                    return True
                final = not exc.retryable or attempt >= self.max_attempts
                self.last_failed_try_at, self.last_failed_try = time.monotonic(), str(exc)
                log.warning(
                    "notification_attempt_failed",
                    notification=doc["id"],
                    alert=doc["alert_id"],
                    channel=doc["channel"],
                    attempt=attempt,
                    final=final,
                    error=str(exc),
                )
                await self.record(
                    outbox.record_failed, self.app, notification_id, str(exc), final=final
                )
                self._outcome(doc, "failed" if final else "retried")
                if final:
                    self.failed += 1
                    return True
                await asyncio.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
                continue
            except Exception:
                # A fault in the sending itself (a bug, an error the notifier did not
                # wrap). The request may have reached the provider: settle it as a
                # crashed run's try is settled (see the dispatcher's `start`), never resent
                # blindly and never forgotten: the ladder keeps reminding.
                log.exception(
                    "notification_send_crashed", notification=doc["id"], alert=doc["alert_id"]
                )
                await self.record(outbox.mark_unconfirmed, self.app, notification_id)
                self._outcome(doc, "unconfirmed")
                return True
            await self.record(outbox.record_sent, self.app, notification_id, provider_id)
            self.sent += 1
            self.last_sent_at = time.monotonic()
            self._outcome(doc, "sent")
            log.info(
                "notification_sent",
                notification=doc["id"],
                alert=doc["alert_id"],
                channel=doc["channel"],
                to=doc["to"],
            )
            return True

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

    async def _fenced_start(self, doc: dict[str, Any]) -> bool | None:
        """Ask the store whether this process still holds the outbox and, if it does,
        record the try's start: one job off the loop, so the fence's answer and the record
        are not two trips through the loop and the thread pool apart (an SOS's first SMS
        waits for both, and under a flood each trip waits for the interpreter). True: the
        try is recorded, make it; False: it must not be made (done, in flight elsewhere,
        taken first, refused); None: another process holds the outbox now. While the store
        cannot answer, both are asked again, with backoff, for as long as the lease lasts."""
        notification_id = UUID(doc["id"])
        alert_id = UUID(doc["alert_id"]) if doc.get("alert_id") else None
        delay = FIRST_RETRY
        while self.lease is None or self.lease.held():
            try:
                return await asyncio.to_thread(self._fence_then_start, notification_id, alert_id)
            except DomainError as exc:
                log.warning(self.record.refused, reason=str(exc))
                return False
            except _FenceFailed:
                log.exception("notification_fence_failed", notification=doc["id"])
            except Exception:
                log.exception(self.record.failed, command="start_attempt")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX)
        return None

    def _fence_then_start(self, notification_id: UUID, alert_id: UUID | None) -> bool | None:
        """Blocking, on a worker thread: the fence (None when another term is live), then
        `outbox.start_attempt`."""
        if self.lease is not None:
            try:
                if not self.lease.fence():
                    return None
            except Exception as exc:
                raise _FenceFailed from exc
        return outbox.start_attempt(self.app, notification_id, alert_id=alert_id)

    def _outcome(self, doc: dict[str, Any], outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(str(doc["channel"]), outcome)
