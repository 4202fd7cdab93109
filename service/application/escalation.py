"""The escalation ladder's application side: load the alert, let the pure ladder decide, save.

The ladder's timers (`escalation_timers`) call here. Taking an alert is in
`acknowledgement`; each try of a message in `outbox`; what follows a message that could
not be delivered in `fallback`.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.alert import Alert
from service.domain.alerts.escalation import (
    alert_message,
    request_notification,
    spoken_alert,
    taken_message,
)
from service.domain.alerts.ladder import (
    Command,
    EscalationState,
    Messages,
    Start,
    Stop,
    Tick,
    decide,
    evolve,
    step_data,
    step_from_data,
)
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import spoken as spoken_location
from service.domain.errors import DomainError


def escalation_state(alert: Alert) -> EscalationState:
    """The ladder's state, folded from the alert's recorded steps (nothing else is kept)."""
    start = EscalationState(raised_at=alert.raised_at)
    return reduce(evolve, (step_from_data(s) for s in alert.escalation_steps), start)


def school_facts(uow: UnitOfWork, key: str) -> tuple[dict[str, Any], str, str]:
    """The school's policy data (a copy), name and time zone."""
    school = uow.directory.school(key)
    data = dict(school.data)
    return data, school.name, school.timezone


def messages_for(uow: UnitOfWork, alert: Alert) -> Messages:
    _, name, timezone = school_facts(uow, alert.school)
    visitor = uow.directory.staff_name(alert.staff)
    code = ids.short_code(alert.id)
    cause = alert.cause if isinstance(alert.cause, dict) else {}
    address = cause.get("address") or spoken_location(cause.get("location"))
    visit_address = cause.get("visit_address")
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
            visit_address=str(visit_address) if visit_address else None,
        ),
        say=spoken_alert(
            kind=alert.kind,
            short_code=code,
            school_name=name,
            visitor=visitor,
            address=str(address) if address else None,
            raised_at=alert.raised_at,
            timezone=timezone,
            visit_address=str(visit_address) if visit_address else None,
        ),
    )


def apply_command(
    uow: UnitOfWork, alert: Alert, command: Command, now: datetime
) -> list[Aggregate]:
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


def start_command(uow: UnitOfWork, alert: Alert) -> Start:
    school, _, _ = school_facts(uow, alert.school)
    return Start(
        kind=alert.kind, raised_at=alert.raised_at, school=school, messages=messages_for(uow, alert)
    )


def escalate(uow: UnitOfWork, alert_id: UUID) -> list[str]:
    """The escalation timer came due: start the ladder, or take its next steps.

    Idempotent: a step already recorded is not decided again, so a timer that
    fires twice (or after a restart) neither repeats nor skips a notification.
    """
    done: list[str] = []

    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        if alert.acknowledged_by is not None:  # taken (resolving takes it first)
            return []
        state = escalation_state(alert)
        command: Command = start_command(uow, alert)
        if state.started:
            school, _, _ = school_facts(uow, alert.school)
            command = Tick(school=school, messages=messages_for(uow, alert))
        before = len(alert.escalation_steps)
        changed = apply_command(uow, alert, command, uow.clock.now())
        done[:] = [s["step"] for s in alert.escalation_steps[before:]]
        return changed

    uow.retry_on_conflict(attempt)
    return done


def announce_taken(uow: UnitOfWork, alert_id: UUID) -> None:
    """Everyone told of an alert is told who took it (once; the ladder stops)."""

    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        if alert.acknowledged_by is None or alert.acknowledged_at is None:
            raise DomainError("the alert has not been taken yet")
        state = escalation_state(alert)
        school, _, timezone = school_facts(uow, alert.school)
        taker = next((c.id for c in state.told if c.name == alert.acknowledged_by), None)
        stop = Stop(
            taken_by=alert.acknowledged_by,
            taker=taker,
            message=taken_message(
                short_code=ids.short_code(alert.id),
                kind=alert.kind,
                visitor=uow.directory.staff_name(alert.staff),
                taken_by=alert.acknowledged_by,
                at=alert.acknowledged_at,
                timezone=timezone,
            ),
            school=school,
            kind=alert.kind,
        )
        return apply_command(uow, alert, stop, uow.clock.now())

    uow.retry_on_conflict(attempt)
