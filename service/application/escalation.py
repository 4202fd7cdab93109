"""The escalation commands of the application: load, let the pure ladder decide, save.

Kept beside `service/application/lonewatch.py` (which delegates here) so the ladder's
application side reads as one piece: escalation ticks, who took an alert and
who is told so, acknowledgement by text and by key press, delivery reports and
what happens when a message cannot be delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.domain import ids
from service.domain.alerts.alert import OPEN_ALERT_STATES, Alert, AlertKind
from service.domain.alerts.escalation import (
    PlannedNotification,
    alert_message,
    request_notification,
    spoken_alert,
    taken_message,
)
from service.domain.alerts.ladder import (
    Command,
    EscalationState,
    Messages,
    Refusal,
    Refused,
    Start,
    Stop,
    Tick,
    channels_for,
    decide,
    evolve,
    step_data,
    step_from_data,
)
from service.domain.alerts.notifications import UNREPORTED, Channel, Notification, NotificationState
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import spoken as spoken_location
from service.domain.errors import DomainError, InvalidTransition
from service.domain.people.directory import School, Staff

if TYPE_CHECKING:
    from projections.timers import TimerAction
    from service.application.lonewatch import Lonewatch


def escalation_state(alert: Alert) -> EscalationState:
    """The ladder's state, folded from the alert's recorded steps (nothing else is kept)."""
    start = EscalationState(raised_at=alert.raised_at)
    return reduce(evolve, (step_from_data(s) for s in alert.escalation_steps), start)


def _school(app: Lonewatch, key: str) -> tuple[dict[str, Any], str, str]:
    school = app.load(ids.school_id(key), School, "school")
    data = dict(school.data)
    return data, school.name, school.timezone


def messages_for(app: Lonewatch, alert: Alert) -> Messages:
    _, name, timezone = _school(app, alert.school)
    staff = app.load_optional(ids.staff_id(alert.staff), Staff) if alert.staff else None
    visitor = staff.name if staff else None
    code = ids.short_code(alert.id)
    cause = alert.cause if isinstance(alert.cause, dict) else {}
    address = cause.get("address") or spoken_location(cause.get("location"))
    return Messages(
        sms=alert_message(
            kind=alert.kind,
            short_code=code,
            school_name=name,
            visitor=visitor,
            device=alert.device,
            raised_at=alert.raised_at,
            timezone=timezone,
            where=describe_location(cause.get("location")),
        ),
        say=spoken_alert(
            kind=alert.kind,
            short_code=code,
            school_name=name,
            visitor=visitor,
            address=str(address) if address else None,
            raised_at=alert.raised_at,
            timezone=timezone,
        ),
    )


def _apply(app: Lonewatch, alert: Alert, command: Command, now: datetime) -> list[Aggregate]:
    """Decide, record each step on the alert and request its notifications: one save."""
    steps = decide(escalation_state(alert), command, now, alert.kind)
    changed: list[Aggregate] = []
    for step in steps:
        alert.record_escalation(step=step_data(step), timestamp=now)
        changed.extend(
            request_notification(plan, alert_id=alert.id, school=alert.school, timestamp=now)
            for plan in step.notify
        )
    return [alert, *changed] if steps else []


def _start_command(app: Lonewatch, alert: Alert) -> Start:
    school, _, _ = _school(app, alert.school)
    return Start(
        kind=alert.kind, raised_at=alert.raised_at, school=school, messages=messages_for(app, alert)
    )


def escalate(app: Lonewatch, alert_id: UUID) -> list[str]:
    """The escalation timer came due: start the ladder, or take its next steps.

    Idempotent: a step already recorded is not decided again, so a timer that
    fires twice (or after a restart) neither repeats nor skips a notification.
    """
    done: list[str] = []

    def attempt() -> list[Aggregate]:
        alert = app.alert(alert_id)
        if alert.acknowledged_by is not None:  # taken (resolving takes it first)
            return []
        state = escalation_state(alert)
        command: Command = _start_command(app, alert)
        if state.started:
            school, _, _ = _school(app, alert.school)
            command = Tick(school=school, messages=messages_for(app, alert))
        before = len(alert.escalation_steps)
        changed = _apply(app, alert, command, app.clock.now())
        done[:] = [s["step"] for s in alert.escalation_steps[before:]]
        return changed

    app.retry_on_conflict(attempt)
    return done


def announce_taken(app: Lonewatch, alert_id: UUID) -> None:
    """Everyone told of an alert is told who took it (once; the ladder stops)."""

    def attempt() -> list[Aggregate]:
        alert = app.alert(alert_id)
        if alert.acknowledged_by is None or alert.acknowledged_at is None:
            raise DomainError("the alert has not been taken yet")
        state = escalation_state(alert)
        school, _, timezone = _school(app, alert.school)
        staff = app.load_optional(ids.staff_id(alert.staff), Staff) if alert.staff else None
        taker = next((c.id for c in state.told if c.name == alert.acknowledged_by), None)
        stop = Stop(
            taken_by=alert.acknowledged_by,
            taker=taker,
            message=taken_message(
                short_code=ids.short_code(alert.id),
                kind=alert.kind,
                visitor=staff.name if staff else None,
                taken_by=alert.acknowledged_by,
                at=alert.acknowledged_at,
                timezone=timezone,
            ),
            school=school,
            kind=alert.kind,
        )
        return _apply(app, alert, stop, app.clock.now())

    app.retry_on_conflict(attempt)


# -- acknowledgement by a contact -------------------------------------------------------


def contact_acknowledges(
    app: Lonewatch, contacts: list[dict[str, str]], code: str | None, *, sender: str
) -> str:
    """ACK with a short code takes that alert (of the contact's schools); a bare ACK takes the
    most recent open alert this phone was told of that nobody has taken yet (else says who
    took the most recent). The reply says what happened."""
    finder = app.alert_finder
    if finder is None:
        return "Lonewatch: acknowledgement by text is not available; use the console."
    schools = sorted({c["school"] for c in contacts})
    open_alerts = [a for a in finder(schools) if a.get("state") in OPEN_ALERT_STATES]
    if code is not None:
        matching = [a for a in open_alerts if a.get("short_code") == code]
        if not matching:
            return f"Lonewatch: no open alert {code} for you. Check the code, or use the console."
    else:
        matching = sorted(
            (
                a
                for a in open_alerts
                if any(n.get("to") == sender for n in (a.get("notifications") or {}).values())
            ),
            key=lambda a: (a.get("acknowledged_by") is None, str(a.get("raised_at"))),
            reverse=True,  # the latest nobody has taken yet, else the latest
        )
        if not matching:
            return "Lonewatch: no open alert you were told of. Reply ACK and the alert's code."
    chosen = matching[0]
    contact = next((c for c in contacts if c["school"] == chosen["school"]), contacts[0])
    return _take(app, UUID(chosen["id"]), contact["name"], via="sms")


def _take(app: Lonewatch, alert_id: UUID, by: str, *, via: str) -> str:
    code = ids.short_code(alert_id)
    try:
        alert = app.acknowledge_alert(alert_id, by=by, via=via)
    except InvalidTransition:
        alert = app.alert(alert_id)
        return f"Lonewatch: alert {code} was already taken by {alert.acknowledged_by}."
    return (
        f"Lonewatch: you have taken alert {code} ({alert.kind.value}). "
        "Everyone else told of it is being told you have it."
    )


def acknowledge_by_key(app: Lonewatch, notification_id: UUID, digits: str) -> str:
    """A callee pressed a key: only 1 takes the alert. Returns the words to read back."""
    notification = app.notification(notification_id)
    if digits.strip() != "1":
        return "That was not 1. The alert is not taken."
    reply = _take(app, notification.alert_id, notification.contact_name, via="voice")
    return reply.removeprefix("Lonewatch: ")


# -- delivery ------------------------------------------------------------------------------


def start_attempt(app: Lonewatch, notification_id: UUID) -> bool:
    """Record a try before it is made; False when it must not be made (done, in flight,
    or the alert was taken first: then it is cancelled)."""
    allowed: list[bool] = []

    def attempt() -> list[Aggregate]:
        notification = app.notification(notification_id)
        allowed[:] = [False]
        if notification.state is not NotificationState.REQUESTED or notification.in_flight:
            return []
        # A prompt to a visitor is about a visit, not an alert: nothing can take it first.
        alert = app.load_optional(notification.alert_id, Alert)
        now = app.clock.now()
        if notification.step != "taken" and alert and alert.acknowledged_by is not None:
            notification.cancel(reason=f"alert taken by {alert.acknowledged_by}", timestamp=now)
            return [notification]
        notification.start_attempt(timestamp=now)
        allowed[:] = [True]
        return [notification]

    app.retry_on_conflict(attempt)
    return allowed[0]


def mark_unconfirmed(app: Lonewatch, notification_id: UUID) -> None:
    def attempt() -> list[Aggregate]:
        notification = app.notification(notification_id)
        if notification.state is not NotificationState.REQUESTED or not notification.in_flight:
            return []
        notification.mark_unconfirmed(
            reason="a try started but its result was never recorded (restart); not resent, "
            "waiting for the provider's status callback",
            timestamp=app.clock.now(),
        )
        return [notification]

    app.retry_on_conflict(attempt)


def report_status(
    app: Lonewatch,
    notification_id: UUID,
    *,
    status: str,
    provider_id: str,
    answered_by: str | None,
) -> None:
    """A status callback. A text that could not be delivered (or a failed call) falls back to
    the other channel; a call answered by a machine is recorded as `machine`, never as taken."""

    def attempt() -> list[Aggregate]:
        notification = app.notification(notification_id)
        now = app.clock.now()
        was_given_up = notification.gave_up
        if not notification.report_status(status, provider_id, answered_by, now):
            return []
        changed: list[Aggregate] = [notification]
        if notification.gave_up and not was_given_up:
            changed.extend(after_final_failure(app, notification, f"provider said {status}", now))
        return changed

    app.retry_on_conflict(attempt)


def check_unconfirmed(app: Lonewatch, notification_id: UUID) -> None:
    """An unconfirmed try's deadline passed: with no report from the provider, it counts as
    not delivered (`unreported`), which falls back like any undelivered message."""
    notification = app.notification(notification_id)
    if notification.state is not NotificationState.UNKNOWN or notification.statuses:
        raise DomainError("the provider has reported on it")
    report_status(app, notification_id, status=UNREPORTED, provider_id="", answered_by=None)


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
    app: Lonewatch, notification_id: UUID, error: str, *, words: str, code: int | None
) -> None:
    """The provider refused the number for good: recorded as such (no retries), and the
    ladder skips that channel for that contact for the rest of the alert and moves on now."""

    def attempt() -> list[Aggregate]:
        notification = app.notification(notification_id)
        now = app.clock.now()
        notification.record_refused(error=error, words=words, code=code, timestamp=now)
        refusal = Refusal(notification.contact, notification.channel, words, code)
        return [notification, *after_final_failure(app, notification, error, now, refusal)]

    app.retry_on_conflict(attempt)


def after_final_failure(
    app: Lonewatch,
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
    alert = app.load_optional(notification.alert_id, Alert)
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
    changed: list[Aggregate] = []
    if refusal is not None and alert.is_open and alert.acknowledged_by is None:
        if not escalation_state(alert).started:
            changed.extend(_apply(app, alert, _start_command(app, alert), now))
        school, _, _ = _school(app, alert.school)
        refused = Refused(refusal, str(notification.id), school, messages_for(app, alert))
        changed.extend(_apply(app, alert, refused, now))
    changed.extend(_after_final_failure(app, alert, notification, error, now))
    return [alert, *(c for c in changed if c is not alert)]


def _counterpart(app: Lonewatch, notification: Notification, other: Channel) -> Notification | None:
    """The same message to the same person on the other channel, if it was requested; for a
    fallback, the message it stood in for (so a failed fallback never falls back again)."""
    n = notification
    if n.purpose.startswith("fallback:"):
        return app.load_optional(UUID(n.purpose.removeprefix("fallback:")), Notification)
    if n.purpose:
        same = Notification.create_id(n.alert_id, n.contact, other.value, n.purpose)
        return app.load_optional(same, Notification)
    legacy = ids.legacy_notification_id(n.alert_id, n.contact, other.value, n.step)
    return app.load_optional(legacy, Notification)


def _after_final_failure(
    app: Lonewatch, alert: Alert, notification: Notification, error: str, now: datetime
) -> list[Aggregate]:
    other = Channel.VOICE if notification.channel is Channel.SMS else Channel.SMS
    if alert.kind is AlertKind.NOTIFICATION_FAILED:
        return []  # a failed message about a failed message never starts a loop
    state = escalation_state(alert)
    other_refused = (notification.contact, other) in state.refused
    counterpart = None if other_refused else _counterpart(app, notification, other)
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
            body=_body(app, alert, other),
            reason=f"fallback: the {notification.channel.value} failed ({error})",
            step=notification.step,
            purpose=f"fallback:{notification.id}",
        )
        return [request_notification(plan, alert_id=alert.id, school=alert.school, timestamp=now)]
    if counterpart is not None and not counterpart.gave_up:
        return []  # the other channel is still on its way or got through
    key = f"notification:{notification.id}"
    if app.exists(ids.alert_id(key)):
        return []
    return app.raise_alert(
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


def _body(app: Lonewatch, alert: Alert, channel: Channel) -> str:
    messages = messages_for(app, alert)
    return messages.say if channel is Channel.VOICE else messages.sms


def find_by_schools(views: Any) -> Any:
    """An alert finder over the views (wiring passes it to the application)."""

    def find(schools: Sequence[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = views.find(
            "alert", schools=list(schools), states=list(OPEN_ALERT_STATES), limit=10_000
        )
        return found

    return find


def timer_actions(app: Lonewatch) -> dict[str, TimerAction]:
    """The scheduler's actions for the escalation timers (projections/escalation.py)."""

    def on_escalate(timer: dict[str, Any], _now: datetime) -> None:
        escalate(app, UUID(timer["alert_id"]))

    def on_announce(timer: dict[str, Any], _now: datetime) -> None:
        announce_taken(app, UUID(timer["alert_id"]))

    def on_unconfirmed(timer: dict[str, Any], _now: datetime) -> None:
        check_unconfirmed(app, UUID(timer["notification_id"]))

    return {
        "escalate": on_escalate,
        "announce_taken": on_announce,
        "check_unconfirmed": on_unconfirmed,
    }
