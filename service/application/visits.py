"""Home-visit commands: load, call the Visit, save, in one transaction each.

The HTTP API, the SMS webhook (through `service.application.texts`) and the
scheduler's timer actions all come through here. Device health for a lone
departure is read from the device views (last_seen, battery); everything else
from the event store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from projections.store import ViewStore
from service.adapters import secrets
from service.application.school_rules import (
    school_of,
    trained_in_safeguarding,
    working_hours_of,
)
from service.domain import ids
from service.domain.alerts.alert import Alert, Outcome
from service.domain.errors import DomainError, Forbidden, NotFound
from service.domain.people.access import Principal, can_see_school, task_refusal
from service.domain.people.directory import Role, Staff
from service.domain.visits.overdue_ladder import OverduePolicy
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.rules import DeviceCheck
from service.domain.visits.tasks import task_for_role, task_visit
from service.domain.visits.visit import Visit
from service.domain.visits.whereabouts import Whereabouts, whereabouts_id
from service.logs import get_logger

if TYPE_CHECKING:
    from service.application.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class VisitPlan:
    """A plan as the API received it; the safe word (if any) is still in clear here."""

    ref: str
    school: str
    staff: list[str]
    pupil_ref: str
    address: str
    purpose: str
    planned_start: datetime
    expected_leave: datetime
    expected_return: datetime
    doorstep: bool = False
    mobile: str | None = None
    safe_word: str | None = None


def can_see_visit(principal: Principal, school: str, staff: list[str]) -> bool:
    """Staff see only their own visits (their login is their directory staff id);
    the school's operators, DSL and headteacher see the school's."""
    if not can_see_school(principal, school):
        return False
    return principal.role is not Role.STAFF or principal.username in staff


def load(app: UnitOfWork, visit_id: UUID, principal: Principal | None = None) -> Visit:
    visit = app.load(visit_id, Visit, "visit")
    if principal is not None and not can_see_visit(principal, visit.school, visit.staff):
        raise NotFound("visit not found")
    return visit


def load_as_of(app: UnitOfWork, visit_id: UUID, as_of: datetime) -> Visit:
    """The visit exactly as it stood at `as_of`, rebuilt from its events."""
    versions = [
        e.originator_version
        for e in app.events.get(visit_id)
        if isinstance(e, Aggregate.Event) and e.timestamp <= as_of
    ]
    if not versions:
        raise NotFound("the visit had not been planned by then")
    visit: Aggregate = app.repository.get(visit_id, version=max(versions))
    if not isinstance(visit, Visit):
        raise NotFound("visit not found")
    return visit


def plan_visit(app: UnitOfWork, plan: VisitPlan, principal: Principal) -> Visit:
    if not can_see_school(principal, plan.school):
        raise NotFound(f"school {plan.school!r} not found")
    if principal.role is Role.STAFF and principal.username not in plan.staff:
        raise DomainError("staff plan their own visits: include yourself as a visitor")
    staff = [_staff(app, key, plan.school) for key in plan.staff]
    if not staff:
        raise DomainError("a visit is made by one staff member (lone) or two (a pair)")
    mobile = plan.mobile or staff[0].phone
    if not mobile:
        raise DomainError("give the mobile number the visitor can be reached on")
    word_hash = (
        secrets.hash_safe_word(plan.safe_word) if plan.safe_word else staff[0].safe_word_hash
    )
    visit = Visit.plan(
        ref=plan.ref,
        school=plan.school,
        staff=plan.staff,
        pupil_ref=plan.pupil_ref,
        address=plan.address,
        purpose=plan.purpose,
        planned_start=plan.planned_start,
        expected_leave=plan.expected_leave,
        expected_return=plan.expected_return,
        doorstep=plan.doorstep,
        mobile=mobile,
        safe_word_hash=word_hash,
        planned_by=principal.actor,
        timestamp=app.clock.now(),
    )
    try:
        app.save(visit)
    except IntegrityError:  # the same ref planned again: the first one stands
        return load(app, visit.id, principal)
    return visit


def _staff(app: UnitOfWork, key: str, school: str) -> Staff:
    staff = app.load_optional(ids.staff_id(key), Staff)
    if staff is None or staff.school != school:
        raise DomainError(f"{key!r} is not a staff member of {school}")
    return staff


def change(
    app: UnitOfWork,
    visit_id: UUID,
    principal: Principal | None,
    command: Callable[[Visit, datetime], list[Aggregate] | None],
) -> Visit:
    """Load, decide, save (again from a fresh load when another writer got there first)."""
    result: list[Visit] = []

    def attempt() -> list[Aggregate]:
        visit = load(app, visit_id, principal)
        more = command(visit, app.clock.now()) or []
        result[:] = [visit]
        return [visit, *more]

    app.retry_on_conflict(attempt)
    return result[0]


def ended_ladder(app: UnitOfWork, visit: Visit, was_active: bool, by: str) -> list[Aggregate]:
    """When a command ended the overdue ladder, close its alert with who ended it and how."""
    if not was_active or visit.ladder_active:
        return []
    alert = app.load_optional(ids.alert_id(visit.overdue_alert_key), Alert)
    if alert is None or not alert.is_open:
        return []
    note = f"overdue ladder ended by {by}: {visit.ladder_ended_how or 'contact made'}"
    alert.resolve(outcome=Outcome.SAFE, note=note, by=by, timestamp=app.clock.now())
    return [alert]


def _whereabouts(app: UnitOfWork, staff: str, now: datetime) -> Whereabouts:
    found = app.load_optional(whereabouts_id(staff), Whereabouts)
    return found if found is not None else Whereabouts(staff=staff, timestamp=now)


# -- commands from the API ----------------------------------------------------------


def assess_risk(
    app: UnitOfWork, visit_id: UUID, principal: Principal, hazards: list[dict[str, Any]]
) -> Visit:
    return change(
        app,
        visit_id,
        principal,
        lambda v, now: v.assess_risk(hazards=hazards, by=principal.actor, timestamp=now),
    )


def authorise(app: UnitOfWork, visit_id: UUID, principal: Principal) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        school = school_of(app, visit.school)
        visit.authorise(
            principal=principal,
            working_hours=working_hours_of(school.data),
            timezone=school.timezone,
            timestamp=now,
            rules=VisitPolicy.from_school(school.policy),
            trained=trained_in_safeguarding(app, visit.staff),
        )
        return []

    return change(app, visit_id, principal, command)


def device_check(views: ViewStore, school: str, staff: str) -> DeviceCheck:
    """The visitor's assigned SOS device heard from most recently, as the views have it."""
    devices = [d for d in views.find("device", schools=[school]) if d.get("staff") == staff]
    if not devices:
        return DeviceCheck(device=None, last_seen=None, battery=None)
    best = max(devices, key=lambda d: str(d.get("last_seen") or ""))
    seen = best.get("last_seen")
    battery = best.get("battery")
    return DeviceCheck(
        device=str(best["id"]),
        last_seen=datetime.fromisoformat(seen) if seen else None,
        battery=int(battery) if isinstance(battery, int | float) else None,
    )


def depart(app: UnitOfWork, views: ViewStore, visit_id: UUID, principal: Principal) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        school = school_of(app, visit.school)
        visit.depart(
            by=principal.actor,
            device=device_check(views, visit.school, visit.lead),
            policy=OverduePolicy.from_school(school.policy),
            timestamp=now,
            rules=VisitPolicy.from_school(school.policy),
            timezone=school.timezone,
        )
        books = [_whereabouts(app, s, now) for s in visit.staff]
        for book in books:
            book.sign_out(visit.id, now)
        return list(books)

    return change(app, visit_id, principal, command)


def move(
    app: UnitOfWork, visit_id: UUID, action: str, *, by: str, via: str, principal: Principal | None
) -> Visit:
    """arrive, leave, no_answer, return, checkin: the visitor's own moves, from any channel."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        was_active = visit.ladder_active
        more: list[Aggregate] = []
        if action == "arrive":
            visit.arrive(by=by, via=via, timestamp=now)
        elif action == "leave":
            visit.leave(by=by, via=via, timestamp=now)
        elif action == "no_answer":
            visit.record_no_answer(by=by, via=via, timestamp=now)
        elif action == "return":
            visit.return_(by=by, via=via, timestamp=now)
            books = [_whereabouts(app, s, now) for s in visit.staff]
            for book in books:
                book.sign_in(visit.id, now)
            more.extend(books)
        elif action == "checkin":
            visit.check_in(by=by, via=via, timestamp=now)
        else:
            raise DomainError(f"unknown visit action {action!r}")
        return [*more, *ended_ladder(app, visit, was_active, by)]

    return change(app, visit_id, principal, command)


def extend(
    app: UnitOfWork,
    visit_id: UUID,
    principal: Principal,
    *,
    reason: str,
    expected_leave: datetime | None,
    expected_return: datetime | None,
) -> Visit:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        was_active = visit.ladder_active
        visit.extend(
            by=principal.actor,
            reason=reason,
            expected_leave=expected_leave,
            expected_return=expected_return,
            timestamp=now,
        )
        return ended_ladder(app, visit, was_active, principal.actor)

    return change(app, visit_id, principal, command)


def cancel(app: UnitOfWork, visit_id: UUID, principal: Principal, reason: str) -> Visit:
    return change(
        app,
        visit_id,
        principal,
        lambda v, now: v.cancel(by=principal.actor, reason=reason, timestamp=now),
    )


def report(
    app: UnitOfWork,
    visit_id: UUID,
    principal: Principal,
    *,
    outcome: str,
    notes: str,
    safeguarding_concern: bool,
) -> Visit:
    return change(
        app,
        visit_id,
        principal,
        lambda v, now: v.report_outcome(
            by=principal.actor,
            outcome=outcome,
            notes=notes,
            safeguarding_concern=safeguarding_concern,
            timestamp=now,
        ),
    )


def close(app: UnitOfWork, visit_id: UUID, principal: Principal) -> Visit:
    return change(
        app, visit_id, principal, lambda v, now: v.close(by=principal.actor, timestamp=now)
    )


def complete_task(
    app: UnitOfWork, task: str, principal: Principal, *, note: str, outcome: str | None = None
) -> bool:
    """Reception (or the DSL) marks a visit's task done; False when it already was, by the
    same person. Another school's task is not found; a role that may not is refused.
    `outcome` (reception's call home only) decides whether the ladder tells SLT."""
    visit_id = task_visit(task)
    if visit_id is None:
        raise NotFound("task not found")
    refusal = task_refusal(principal, task_for_role(task))

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        if refusal:
            raise Forbidden(refusal)
        changed[:] = [
            visit.complete_task(task, by=principal.actor, note=note, timestamp=now, outcome=outcome)
        ]
        return []

    changed: list[bool] = [False]
    visit = app.load_optional(visit_id, Visit)
    if visit is None or not can_see_school(principal, visit.school):
        raise NotFound("task not found")
    change(app, visit_id, None, command)
    return changed[0]


# -- the visit a visitor is on now ------------------------------------------------------


def current_visit(app: UnitOfWork, staff_key: str) -> Visit | None:
    book = app.load_optional(whereabouts_id(staff_key), Whereabouts)
    if book is None or book.visit is None:
        return None
    return app.load_optional(book.visit, Visit)


def safe_word_hash_of_current_visit(app: UnitOfWork, staff_key: str) -> str | None:
    visit = current_visit(app, staff_key)
    return visit.safe_word_hash if visit is not None else None


def safe_word_hashes(app: UnitOfWork, staff_key: str | None) -> tuple[str, ...]:
    """The safe words a text from this staff member is checked for, whatever the channel:
    their own (the directory's) and the one agreed for the visit they are signed out on.
    Three reads of the store: callers ask only for texts, never per heartbeat."""
    if not staff_key:
        return ()
    staff = app.load_optional(ids.staff_id(staff_key), Staff)
    own = staff.safe_word_hash if staff is not None else None
    visit_word = safe_word_hash_of_current_visit(app, staff_key)
    return tuple(dict.fromkeys(h for h in (own, visit_word) if h))
