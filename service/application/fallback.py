"""Nobody is left without word silently: what follows a message that could not be delivered.

The other channel once (a text falls back to a call, a call to a text); a refused number
goes to the ladder, which skips it; when both channels have failed, a
`notification_failed` alert for the console.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.alerts import raise_alert
from service.application.escalation import (
    apply_command,
    escalation_state,
    messages_for,
    school_facts,
    start_command,
)
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind
from service.domain.alerts.escalation import PlannedNotification, request_notification
from service.domain.alerts.ladder import Refusal, Refused, channels_for
from service.domain.alerts.notifications import HANDOVER, Channel, Notification


def after_final_failure(
    uow: UnitOfWork,
    notification: Notification,
    error: str,
    now: datetime,
    refusal: Refusal | None = None,
) -> list[Aggregate]:
    """Nobody is left without word silently: try the other channel once (SMS to call, call to
    SMS); when both have failed, raise a `notification_failed` alert for the console. A refusal
    goes to the ladder, which tries the other channel and passes an unreachable tier."""
    if notification.step == "taken":
        return []  # news that someone else has it: visible on the alert, nothing to escalate
    alert = uow.load_optional(notification.alert_id, Alert)
    if alert is None:
        return []  # a prompt about a visit: the visit's own overdue ladder follows it up
    # Saved with the notification: when a contact's text and call fail at the same moment,
    # the two saves now conflict on the alert, and the second, retried, sees the first.
    alert.record_delivery_failed(
        notification_id=notification.id,
        contact=notification.contact,
        channel=notification.channel.value,
        timestamp=now,
    )
    if notification.step == HANDOVER:
        # The colleague may not know the alert is theirs: the console is told at once (no
        # call stands in: it would ask them to take an alert already taken).
        return [alert, *_tell_the_console(uow, notification, error, now)]
    changed: list[Aggregate] = []
    if refusal is not None and alert.is_open and alert.acknowledged_by is None:
        if not escalation_state(alert).started:
            changed.extend(apply_command(uow, alert, start_command(uow, alert), now))
        school, _, _ = school_facts(uow, alert.school)
        refused = Refused(refusal, str(notification.id), school, messages_for(uow, alert))
        changed.extend(apply_command(uow, alert, refused, now))
    changed.extend(_after_final_failure(uow, alert, notification, error, now))
    return [alert, *(c for c in changed if c is not alert)]


def _counterpart(
    uow: UnitOfWork, notification: Notification, other: Channel
) -> Notification | None:
    """The same message to the same person on the other channel, if it was requested; for a
    fallback, the message it stood in for (so a failed fallback never falls back again)."""
    n = notification
    if n.purpose.startswith("fallback:"):
        return uow.load_optional(UUID(n.purpose.removeprefix("fallback:")), Notification)
    if n.purpose:
        same = Notification.create_id(n.alert_id, n.contact, other.value, n.purpose)
        return uow.load_optional(same, Notification)
    legacy = ids.legacy_notification_id(n.alert_id, n.contact, other.value, n.step)
    return uow.load_optional(legacy, Notification)


def _after_final_failure(
    uow: UnitOfWork, alert: Alert, notification: Notification, error: str, now: datetime
) -> list[Aggregate]:
    other = Channel.VOICE if notification.channel is Channel.SMS else Channel.SMS
    if alert.kind is AlertKind.NOTIFICATION_FAILED:
        return []  # a failed message about a failed message never starts a loop
    state = escalation_state(alert)
    other_refused = (notification.contact, other) in state.refused
    counterpart = None if other_refused else _counterpart(uow, notification, other)
    if counterpart is None and not other_refused:
        if (notification.contact, notification.channel) in state.refused:
            return []  # the ladder tried the other channel when it recorded the refusal
        if not state.started and other in channels_for(alert.kind):
            return []  # the ladder's first step (due now) calls tier 1 anyway
        plan = PlannedNotification(
            contact=notification.contact,
            contact_name=notification.contact_name,
            to=notification.to,
            channel=other,
            body=_body(uow, alert, other),
            reason=f"fallback: the {notification.channel.value} failed ({error})",
            step=notification.step,
            purpose=f"fallback:{notification.id}",
        )
        return [request_notification(plan, alert_id=alert.id, school=alert.school, timestamp=now)]
    if counterpart is not None and not counterpart.gave_up:
        return []  # the other channel is still on its way or got through
    return _tell_the_console(uow, notification, error, now)


def _tell_the_console(
    uow: UnitOfWork, notification: Notification, error: str, now: datetime
) -> list[Aggregate]:
    """A red `notification_failed` alert for the console (once per notification): someone
    was not reached, and a person must reach them another way."""
    key = f"notification:{notification.id}"
    if uow.exists(ids.alert_id(key)):
        return []
    return raise_alert(
        uow,
        key=key,
        kind=AlertKind.NOTIFICATION_FAILED,
        school=notification.school,
        device=None,
        staff=None,
        cause={
            "notification": str(notification.id),
            "alert": str(notification.alert_id),
            "contact": notification.contact_name,
            "to": notification.to,
            "error": error,
            "refusal": notification.refusal,
        },
        now=now,
        notify=False,  # for the console itself: the person to reach is the one who failed
    )


def _body(uow: UnitOfWork, alert: Alert, channel: Channel) -> str:
    messages = messages_for(uow, alert)
    return messages.say if channel is Channel.VOICE else messages.sms
