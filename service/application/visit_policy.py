"""Before a visit: what the school's visit policy asks, done and recorded (use cases).

Naming a companion from another agency, the single-or-pair decision, parents/carers
informed, a visitor's own confirmations; and what the console shows of it: a visit's
readiness (what is missing before authorising and signing out) and the school's policy
sheet. The rules are the domain's (service/domain/visits/before.py, readiness.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from service.application.school_rules import (
    school_of,
    school_zone,
    trained_in_safeguarding,
    visit_rules,
)
from service.application.visits import change
from service.domain.errors import NotFound
from service.domain.people.access import Principal, can_see_school
from service.domain.visits import readiness
from service.domain.visits.decisions import DuringPolicy
from service.domain.visits.policy_sheet import sheet
from service.domain.visits.visit import Visit

if TYPE_CHECKING:
    from service.application.unit_of_work import UnitOfWork


def name_companion(
    app: UnitOfWork,
    visit_id: UUID,
    principal: Principal,
    *,
    name: str,
    organisation: str,
    phone: str | None,
) -> Visit:
    def command(visit: Visit, now: Any) -> None:
        visit.name_companion(
            by=principal.actor,
            name=name,
            organisation=organisation,
            phone=phone,
            rules=visit_rules(app, visit.school),
            timestamp=now,
        )

    return change(app, visit_id, principal, command)


def decide_companions(
    app: UnitOfWork, visit_id: UUID, principal: Principal, *, decision: str, reason: str
) -> Visit:
    def command(visit: Visit, now: Any) -> None:
        visit.decide_companions(
            principal=principal,
            decision=decision,
            reason=reason,
            rules=visit_rules(app, visit.school),
            timestamp=now,
        )

    return change(app, visit_id, principal, command)


def record_parents(
    app: UnitOfWork, visit_id: UUID, principal: Principal, *, informed: bool, note: str
) -> Visit:
    def command(visit: Visit, now: Any) -> None:
        visit.record_parents(
            by=principal.actor,
            informed=informed,
            note=note,
            rules=visit_rules(app, visit.school),
            timestamp=now,
        )

    return change(app, visit_id, principal, command)


def confirm(app: UnitOfWork, visit_id: UUID, principal: Principal, what: str) -> Visit:
    return change(
        app,
        visit_id,
        principal,
        lambda v, now: v.confirm(principal=principal, what=what, timestamp=now),
    )


def visit_readiness(app: UnitOfWork, visit: Visit) -> dict[str, Any]:
    """What the school's policy asks of this visit now, done and missing."""
    return readiness.summary(
        visit_rules(app, visit.school),
        visit.before,
        staff=visit.staff,
        trained=trained_in_safeguarding(app, visit.staff),
        zone=school_zone(app, visit.school),
    )


def policy_sheet(app: UnitOfWork, principal: Principal, school: str) -> dict[str, Any]:
    """The school's visit policy as Lonewatch enforces it, beside the policy's own words."""
    if not can_see_school(principal, school):
        raise NotFound(f"school {school!r} not found")
    found = school_of(app, school)
    during = DuringPolicy.from_school(found.policy or {})
    return {"school": school, "name": found.name, **sheet(visit_rules(app, school), during)}
