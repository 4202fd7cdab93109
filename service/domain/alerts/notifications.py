"""Notifications: the outbox of messages to people, each one recorded from request to result.

Twilio has no idempotency key, so every try is recorded *before* it is made
(`AttemptStarted`). A try that started and has no result when the service
starts again may or may not have reached Twilio: it is never sent blindly again
but marked `Unconfirmed` (state "unknown"); Twilio's status callback, which
names the notification, settles it later, and the escalation ladder keeps
re-notifying until a person acknowledges, so nobody is left relying on it. If no
status comes within UNREPORTED_AFTER_SECONDS, it counts as not delivered (the
other channel is tried; when that failed too, the console is alerted).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain.errors import InvalidTransition
from service.domain.ids import notification_id


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"


class NotificationState(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


DELIVERED = frozenset({"delivered", "answered", "read"})
"""Provider statuses that mean a person's phone got it (an answered call, a delivered text);
a voicemail is `machine` and is not among them."""
UNREPORTED = "unreported"
"""Our own status for an unconfirmed try the provider never reported on (see UNREPORTED_AFTER)."""
UNDELIVERED = frozenset({"failed", "undelivered", "canceled", UNREPORTED})
"""Statuses that mean the message did not (or cannot be shown to) reach the phone: worth a
fallback."""
HANDOVER = "handover"
"""The step of the text telling a colleague that an open alert was handed to them."""
NEWS = frozenset({"taken", HANDOVER})
"""Steps that tell people what was done with an alert already taken: sent because it is
taken (never cancelled by the taking), and never followed by a call (a call asks for a key
press to take the alert, and it is taken)."""
UNREPORTED_AFTER_SECONDS = 120
"""How long an unconfirmed try waits for a status callback before it counts as not delivered."""


class Notification(Aggregate):
    """Its id is the idempotency key: derived from subject, contact, channel and purpose.

    Notifications stored before purposes existed keep the ids they were stored under
    (`legacy_notification_id`); their `purpose` reads as "".
    """

    @staticmethod
    def create_id(alert_id: UUID, contact: str, channel: str, purpose: str) -> UUID:
        return notification_id(alert_id, contact, channel, purpose)

    @event("Requested")
    def __init__(
        self,
        alert_id: UUID,
        step: str,
        school: str,
        contact: str,
        contact_name: str,
        to: str,
        channel: str,
        body: str,
        reason: str,
        timestamp: datetime,
        purpose: str = "",
        plan: dict[str, Any] | None = None,
    ) -> None:
        self.alert_id = alert_id
        self.purpose = purpose
        self.plan = plan
        """The escalation step the reason tells, as values (ladder_state.Step.plan): what a
        reader's words are made from. Requests stored before it was recorded have none."""
        self.step = step
        self.school = school
        self.contact = contact
        self.contact_name = contact_name
        self.to = to
        self.channel = Channel(channel)
        self.body = body
        self.reason = reason
        self.state = NotificationState.REQUESTED
        self.attempts = 0
        self.provider_id: str | None = None
        self.last_error: str | None = None
        self.in_flight = False
        self.statuses: list[str] = []
        self.refusal: str | None = None

    @property
    def delivered(self) -> bool:
        return any(s in DELIVERED for s in self.statuses)

    @property
    def gave_up(self) -> bool:
        """No try will reach the person: failed outright, or the provider could not deliver."""
        return self.state is NotificationState.FAILED or any(
            s in UNDELIVERED for s in self.statuses
        )

    def _ensure_pending(self) -> None:
        if self.state is not NotificationState.REQUESTED:
            raise InvalidTransition(f"notification is already {self.state.value}")

    def start_attempt(self, timestamp: datetime) -> None:
        """Recorded before the provider is asked, so a crash mid-request is never resent blindly."""
        self._ensure_pending()
        if self.in_flight:
            raise InvalidTransition("a try is already in flight (or its outcome is unknown)")
        self._attempt_started(attempt=self.attempts + 1, timestamp=timestamp)

    @event("AttemptStarted")
    def _attempt_started(self, attempt: int, timestamp: datetime) -> None:
        self.in_flight = True

    def record_sent(self, provider_id: str, timestamp: datetime) -> None:
        self._ensure_pending()
        self._sent(provider_id=provider_id, timestamp=timestamp)

    @event("Sent")
    def _sent(self, provider_id: str, timestamp: datetime) -> None:
        self.attempts += 1
        self.provider_id = provider_id
        self.state = NotificationState.SENT
        self.in_flight = False

    def record_attempt_failed(self, error: str, final: bool, timestamp: datetime) -> None:
        """A try failed; `final` means no more tries will be made (the alert side must know)."""
        self._ensure_pending()
        self._attempt_failed(error=error, final=final, timestamp=timestamp)

    @event("AttemptFailed")
    def _attempt_failed(self, error: str, final: bool, timestamp: datetime) -> None:
        self.attempts += 1
        self.last_error = error
        self.in_flight = False
        if final:
            self.state = NotificationState.FAILED

    def record_refused(self, error: str, words: str, code: int | None, timestamp: datetime) -> None:
        """The provider refused this number for good (invalid, unsubscribed by STOP, not a
        mobile...): no more tries, and the ladder never asks this channel again on the alert."""
        self._ensure_pending()
        self._refused(error=error, words=words, code=code, timestamp=timestamp)

    @event("Refused")
    def _refused(self, error: str, words: str, code: int | None, timestamp: datetime) -> None:
        self.attempts += 1
        self.last_error = error
        self.refusal = words
        self.in_flight = False
        self.state = NotificationState.FAILED

    def mark_unconfirmed(self, reason: str, timestamp: datetime) -> None:
        """A try started and its result was never recorded (a crash): do not send again."""
        self._ensure_pending()
        if not self.in_flight:
            raise InvalidTransition("no try is in flight")
        self._unconfirmed(reason=reason, timestamp=timestamp)

    @event("Unconfirmed")
    def _unconfirmed(self, reason: str, timestamp: datetime) -> None:
        self.in_flight = False
        self.state = NotificationState.UNKNOWN
        self.last_error = reason

    def cancel(self, reason: str, timestamp: datetime) -> None:
        """Not sent at all: the alert was taken before its turn came."""
        self._ensure_pending()
        self._cancelled(reason=reason, timestamp=timestamp)

    @event("Cancelled")
    def _cancelled(self, reason: str, timestamp: datetime) -> None:
        self.state = NotificationState.CANCELLED

    def report_status(
        self, status: str, provider_id: str, answered_by: str | None, timestamp: datetime
    ) -> bool:
        """What the provider's status callback said; repeats (Twilio retries) record nothing."""
        if status in self.statuses:
            return False
        self._status_reported(
            status=status, provider_id=provider_id, answered_by=answered_by, timestamp=timestamp
        )
        return True

    @event("StatusReported")
    def _status_reported(
        self, status: str, provider_id: str, answered_by: str | None, timestamp: datetime
    ) -> None:
        self.statuses.append(status)
        if self.state is NotificationState.UNKNOWN and status not in UNDELIVERED:
            self.state = NotificationState.SENT  # the unconfirmed try did reach the provider
        self.provider_id = self.provider_id or provider_id
