"""The outbox: each try of a requested notification, recorded before and after it is made.

The dispatcher (service/workers/dispatcher.py) sends; this records. A try is recorded
before the request, so a restart never sends twice; what the provider reports later
(delivered, failed, refused, a machine answered) is recorded here too, and a message that
could not be delivered is followed up by `fallback`.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.fallback import after_final_failure
from service.application.unit_of_work import UnitOfWork
from service.domain.alerts.alert import Alert
from service.domain.alerts.ladder import Refusal
from service.domain.alerts.notifications import (
    NEWS,
    UNREPORTED,
    Channel,
    Notification,
    NotificationState,
)
from service.domain.errors import DomainError, NotFound


def start_attempt(uow: UnitOfWork, notification_id: UUID, alert_id: UUID | None = None) -> bool:
    """Record a try before it is made; False when it must not be made (done, in flight,
    or the alert was taken first: then it is cancelled). `alert_id`: the notification's
    alert, when the caller knows it (the dispatcher's document), so both are read in one
    query: an SOS's first SMS waits for this record, and under a flood each read one after
    another is a pooled connection's round trip and a wait for the interpreter."""
    allowed: list[bool] = []

    def attempt() -> list[Aggregate]:
        notification, alert = _notification_and_alert(uow, notification_id, alert_id)
        allowed[:] = [False]
        if notification.state is not NotificationState.REQUESTED or notification.in_flight:
            return []
        now = uow.clock.now()
        if notification.step not in NEWS and alert and alert.acknowledged_by is not None:
            notification.cancel(reason=f"alert taken by {alert.acknowledged_by}", timestamp=now)
            return [notification]
        notification.start_attempt(timestamp=now)
        allowed[:] = [True]
        return [notification]

    uow.retry_on_conflict(attempt)
    return allowed[0]


def _notification_and_alert(
    uow: UnitOfWork, notification_id: UUID, alert_id: UUID | None
) -> tuple[Notification, Alert | None]:
    """The notification and its alert (None: a prompt to a visitor is about a visit, not
    an alert, and nothing can take it first); in one query when `alert_id` is given."""
    if alert_id is None:
        notification = uow.load(notification_id, Notification, "notification")
        return notification, uow.load_optional(notification.alert_id, Alert)
    found = uow.load_many((notification_id, alert_id), Aggregate)
    loaded = found.get(notification_id)
    if not isinstance(loaded, Notification):
        raise NotFound("notification not found")
    if loaded.alert_id != alert_id:  # the caller's document named another: read that
        return loaded, uow.load_optional(loaded.alert_id, Alert)
    alert = found.get(alert_id)
    return loaded, alert if isinstance(alert, Alert) else None


def record_sent(uow: UnitOfWork, notification_id: UUID, provider_id: str) -> None:
    """The provider took the message; the alert records who has been told."""

    def attempt() -> list[Aggregate]:
        notification = uow.load(notification_id, Notification, "notification")
        now = uow.clock.now()
        notification.record_sent(provider_id=provider_id, timestamp=now)
        alert = uow.load_optional(notification.alert_id, Alert)
        if alert is None:  # a prompt to a visitor is about a visit, not an alert
            return [notification]
        alert.record_notified(
            notification_id=notification_id, contact=notification.contact, timestamp=now
        )
        return [notification, alert]

    uow.retry_on_conflict(attempt)


def record_failed(uow: UnitOfWork, notification_id: UUID, error: str, *, final: bool) -> None:
    """A failed try; the last one falls back to the other channel, and when that has failed
    too a `notification_failed` alert makes it visible (service.application.fallback)."""

    def attempt() -> list[Aggregate]:
        notification = uow.load(notification_id, Notification, "notification")
        now = uow.clock.now()
        notification.record_attempt_failed(error=error, final=final, timestamp=now)
        if not final:
            return [notification]
        return [notification, *after_final_failure(uow, notification, error, now)]

    uow.retry_on_conflict(attempt)


def mark_unconfirmed(uow: UnitOfWork, notification_id: UUID) -> None:
    def attempt() -> list[Aggregate]:
        notification = uow.load(notification_id, Notification, "notification")
        if notification.state is not NotificationState.REQUESTED or not notification.in_flight:
            return []
        notification.mark_unconfirmed(
            reason="a try started but its result was never recorded (restart); not resent, "
            "waiting for the provider's status callback",
            timestamp=uow.clock.now(),
        )
        return [notification]

    uow.retry_on_conflict(attempt)


def report_status(
    uow: UnitOfWork,
    notification_id: UUID,
    *,
    status: str,
    provider_id: str,
    answered_by: str | None,
) -> None:
    """A status callback. A text that could not be delivered (or a failed call) falls back to
    the other channel; a call answered by a machine is recorded as `machine`, never as taken."""

    def attempt() -> list[Aggregate]:
        notification = uow.load(notification_id, Notification, "notification")
        now = uow.clock.now()
        was_given_up = notification.gave_up
        if not notification.report_status(status, provider_id, answered_by, now):
            return []
        changed: list[Aggregate] = [notification]
        if notification.gave_up and not was_given_up:
            changed.extend(after_final_failure(uow, notification, f"provider said {status}", now))
        return changed

    uow.retry_on_conflict(attempt)


def check_unconfirmed(uow: UnitOfWork, notification_id: UUID) -> None:
    """An unconfirmed try's deadline passed: with no report from the provider, it counts as
    not delivered (`unreported`), which falls back like any undelivered message."""
    notification = uow.load(notification_id, Notification, "notification")
    if notification.state is not NotificationState.UNKNOWN or notification.statuses:
        raise DomainError("the provider has reported on it")
    report_status(uow, notification_id, status=UNREPORTED, provider_id="", answered_by=None)


def delivery_status(channel: str, status: str, answered_by: str | None) -> str:
    """Twilio's MessageStatus or CallStatus (and AnsweredBy) in our words."""
    if channel == Channel.VOICE.value:
        if answered_by and answered_by.startswith(("machine", "fax")):
            return "machine"
        return {
            "in-progress": "answered",
            "answered": "answered",
            "no-answer": "no_answer",
            "busy": "no_answer",
        }.get(status, status)
    return status


def record_refused(
    uow: UnitOfWork, notification_id: UUID, error: str, *, words: str, code: int | None
) -> None:
    """The provider refused the number for good: recorded as such (no retries), and the
    ladder skips that channel for that contact for the rest of the alert and moves on now."""

    def attempt() -> list[Aggregate]:
        notification = uow.load(notification_id, Notification, "notification")
        now = uow.clock.now()
        notification.record_refused(error=error, words=words, code=code, timestamp=now)
        refusal = Refusal(notification.contact, notification.channel, words, code)
        return [notification, *after_final_failure(uow, notification, error, now, refusal)]

    uow.retry_on_conflict(attempt)
