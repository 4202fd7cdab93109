"""Notifications: the outbox of messages to people, each one recorded from request to result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
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


class Notification(Aggregate):
    """Its id is the idempotency key: derived from alert, contact, channel and step."""

    @staticmethod
    def create_id(alert_id: UUID, contact: str, channel: str, step: str) -> UUID:
        return notification_id(alert_id, contact, channel, step)

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
    ) -> None:
        self.alert_id = alert_id
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

    def _ensure_pending(self) -> None:
        if self.state is not NotificationState.REQUESTED:
            raise InvalidTransition(f"notification is already {self.state.value}")

    def record_sent(self, provider_id: str, timestamp: datetime) -> None:
        self._ensure_pending()
        self._sent(provider_id=provider_id, timestamp=timestamp)

    @event("Sent")
    def _sent(self, provider_id: str, timestamp: datetime) -> None:
        self.attempts += 1
        self.provider_id = provider_id
        self.state = NotificationState.SENT

    def record_attempt_failed(self, error: str, final: bool, timestamp: datetime) -> None:
        """A try failed; `final` means no more tries will be made (the alert side must know)."""
        self._ensure_pending()
        self._attempt_failed(error=error, final=final, timestamp=timestamp)

    @event("AttemptFailed")
    def _attempt_failed(self, error: str, final: bool, timestamp: datetime) -> None:
        self.attempts += 1
        self.last_error = error
        if final:
            self.state = NotificationState.FAILED
