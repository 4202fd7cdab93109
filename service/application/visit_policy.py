"""Before a visit: what the school's visit policy asks, done and recorded (use cases).

Naming a companion from another agency, the single-or-pair decision, parents/carers
informed, a visitor's own confirmations; and what the console shows of it: a visit's
readiness (what is missing before authorising and signing out) and the school's policy
sheet. The rules are the domain's (service/domain/visits/before.py, readiness.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from service.application.school_rules import (
    school_of,
    school_zone,
    trained_in_safeguarding,
    visit_rules,
    working_hours_of,
)
from service.application.visits import change
from service.domain.errors import NotFound
from service.domain.people.access import Principal, can_see_school
from service.domain.people.directory import timezone_of
from service.domain.visits import readiness
from service.domain.visits.decisions import DuringPolicy
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.policy_sheet import sheet
from service.domain.visits.visit import Visit
from service.domain.visits.who_authorises import authorisation

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


def may_authorise(app: UnitOfWork, visit: Visit, principal: Principal) -> dict[str, Any]:
    """Whether this reader may authorise the visit and, if not, who may: asked of the same
    rule `Visit.authorise` refuses with, so the board's button cannot promise what the
    service will refuse."""
    school = school_of(app, visit.school)
    return visit.authorisation_for(
        principal,
        working_hours=working_hours_of(school.data),
        timezone=school.timezone,
        rules=VisitPolicy.from_school(school.policy),
    ).as_data()


def may_authorise_on_board(
    principal: Principal, doc: Mapping[str, Any], school: Mapping[str, Any]
) -> dict[str, Any]:
    """`may_authorise` for a visit as the board's documents have it (`school`: the school's
    directory entry as the views have it); the same rule, read from the same facts."""
    return authorisation(
        principal,
        school=str(doc["school"]),
        start=_instant(doc["planned_start"]),
        end=_instant(doc["expected_return"]),
        authorised_by=VisitPolicy.from_school(school.get("policy")).authorised_by,
        working_hours=working_hours_of(school),
        timezone=timezone_of(school),
    ).as_data()


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def policy_sheet(app: UnitOfWork, principal: Principal, school: str) -> dict[str, Any]:
    """The school's visit policy as Lonewatch enforces it, beside the policy's own words."""
    if not can_see_school(principal, school):
        raise NotFound(f"school {school!r} not found")
    found = school_of(app, school)
    during = DuringPolicy.from_school(found.policy or {})
    return {"school": school, "name": found.name, **sheet(visit_rules(app, school), during)}
