"""What a visitor records at the property, by text, from the phone app or over the API: a
concern (told to the DSL at once, by the escalation ladder), a decision under a policy rule,
the visit ended early, where they go next, more time, and an incident (the headteacher told).

Each is one transaction over the visit and whatever it causes (the concern's alert and its
first messages; the incident's messages to the headteacher), so nothing is told that was not
recorded, and nothing recorded goes untold.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.alerts import raise_alert
from service.application.school_rules import school_of
from service.application.unit_of_work import UnitOfWork
from service.application.visits import change, ended_ladder
from service.domain import ids
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import (
    PlannedNotification,
    contacts_in,
    request_notification,
)
from service.domain.alerts.notifications import Channel
from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.visits.commands import extended_times, extension_problem
from service.domain.visits.decisions import DuringPolicy, Rule
from service.domain.visits.during import during_of
from service.domain.visits.followups import followup_id, followups_of
from service.domain.visits.incidents import IncidentKind, headteacher_message, incidents_of
from service.domain.visits.states import VisitState
from service.domain.visits.visit import Visit

INCIDENT_ROLES = ("headteacher",)
"""Who an incident is told to: "inform the headteacher... of the incident" (SEN Trust)."""


def concern_alert_key(visit: UUID, number: int) -> str:
    return f"concern:{visit}:{number}"


def raise_concern(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    words: str,
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    """Record the concern on the visit and raise a `concern` alert in the same transaction:
    the school's concern ladder (by default the DSL first, then the headteacher) is texted
    at once. The concern's words stay on the visit, for those who may read a visit's notes."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        number = visit.raise_concern(words=words, by=by, via=via, timestamp=now)
        return raise_alert(
            uow,
            key=concern_alert_key(visit.id, number),
            kind=AlertKind.CONCERN,
            school=visit.school,
            staff=visit.lead,
            device=None,
            cause={"visit": str(visit.id), "concern": number, "via": via},
            now=now,
        )

    return change(uow, visit_id, principal, command)


def record_decision(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    rule: Rule,
    choice: str,
    why: str,
    controls: Collection[str],
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        policy = DuringPolicy.from_school(school_of(uow, visit.school).policy)
        visit.record_decision(
            rule=rule,
            choice=choice,
            why=why,
            controls=controls,
            policy=policy,
            by=by,
            via=via,
            timestamp=now,
        )
        return []

    return change(uow, visit_id, principal, command)


def end_early(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    words: str,
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        visit.end_early(words=words, by=by, via=via, timestamp=now)
        return []

    return change(uow, visit_id, principal, command)


def apply_left(visit: Visit, *, place: str, by: str, via: str, now: datetime) -> None:
    """LEFT [next: place] on a loaded visit: left the property (unless already recorded)
    and, with a place, where next. Shared by the use case and a text's rehearsal."""
    if visit.state in (VisitState.DEPARTED, VisitState.ARRIVED) or not place:
        visit.leave(by=by, via=via, timestamp=now)  # when already left: refused, saying so
    if place:
        visit.give_next_place(place=place, by=by, via=via, timestamp=now)


def left_for(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    place: str,
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        apply_left(visit, place=place, by=by, via=via, now=now)
        return []

    return change(uow, visit_id, principal, command)


def apply_extend(visit: Visit, *, minutes: int | None, by: str, via: str, now: datetime) -> None:
    """EXTEND N on a loaded visit (bounded per text: commands.extension_problem)."""
    problem = extension_problem(minutes)
    if problem:
        raise DomainError(problem)
    assert minutes is not None
    leave, back = extended_times(
        leave=visit.expected_leave,
        back=visit.expected_return,
        now=now,
        minutes=minutes,
        left=visit.state is VisitState.LEFT,
    )
    visit.extend(
        by=by,
        reason=f"EXTEND {minutes} ({via})",
        expected_leave=leave,
        expected_return=back,
        timestamp=now,
    )


def extend_by(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    minutes: int | None,
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    """More time: the expected return moves `minutes` later; an overdue ladder it ends has
    its alert closed, as any extension's."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        was_active = visit.ladder_active
        apply_extend(visit, minutes=minutes, by=by, via=via, now=now)
        return ended_ladder(uow, visit, was_active, by)

    return change(uow, visit_id, principal, command)


def record_incident(
    uow: UnitOfWork,
    visit_id: UUID,
    *,
    kind: IncidentKind,
    what: str,
    by: str,
    via: str,
    principal: Principal | None = None,
) -> Visit:
    """Record the incident and text the school's headteacher(s) in the same transaction."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        number = visit.record_incident(kind=kind, what=what, by=by, via=via, timestamp=now)
        entry = uow.directory.school(visit.school)
        body = headteacher_message(
            kind=kind,
            school_name=entry.name,
            visitor=uow.directory.staff_name(visit.lead) or visit.lead,
            code=visit.id.hex[:6].upper(),
            at=now,
            timezone=entry.timezone,
        )
        reason = f"incident {number} ({kind.value}): inform the headteacher"
        return [
            request_notification(
                PlannedNotification(
                    contact=c.id,
                    contact_name=c.name,
                    to=c.phone,
                    channel=Channel.SMS,
                    body=body,
                    reason=reason,
                    step=f"incident:{number}",
                    purpose=f"incident:{number}",
                ),
                alert_id=visit.id,
                school=visit.school,
                timestamp=now,
            )
            for c in contacts_in(entry.data, INCIDENT_ROLES)
        ]

    return change(uow, visit_id, principal, command)


def concern_alert_id(visit: UUID, number: int) -> UUID:
    return ids.alert_id(concern_alert_key(visit, number))


def record_of(visit: Visit) -> dict[str, Any]:
    """What happened at the property and after, as the API shows a visit: the visitor's own
    words under `notes` (withheld from whoever may not read a visit's notes)."""
    during = during_of(visit)
    return {
        "concerns": list(during["concerns"]),
        "decisions": list(during["decisions"]),
        "ended_early": during["ended_early"],
        "next_place": during["next_place"],
        "incidents": list(incidents_of(visit)),
        "followups": [
            {"id": followup_id(visit.id, n), **f} for n, f in sorted(followups_of(visit).items())
        ],
    }
