"""Working an open alert: a note added, the alert handed over to a named colleague.

Each is recorded on the alert (`Alert.NoteAdded`, `Alert.HandedOver`), so the feed, the
timeline and the printed record all show it; the colleague is checked against the users
as they stand (enabled, one who takes alerts, of the alert's school).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.escalation import school_facts
from service.application.unit_of_work import UnitOfWork
from service.application.users import all_users
from service.domain import ids
from service.domain.alerts.alert import Alert
from service.domain.alerts.escalation import (
    PlannedNotification,
    handover_message,
    request_notification,
)
from service.domain.alerts.notifications import HANDOVER, Channel
from service.domain.alerts.working import HandoverText, handover_text
from service.domain.errors import DomainError, NotFound
from service.domain.people.access import Principal, can_handle_alerts, can_see_school
from service.domain.people.directory import User


def add_note(uow: UnitOfWork, alert_id: UUID, *, text: str, by: str) -> Alert:
    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        alert.add_note(text=text, by=by, timestamp=uow.clock.now())
        return [alert]

    uow.retry_on_conflict(attempt)
    return uow.load(alert_id, Alert, "alert")


def colleague(uow: UnitOfWork, username: str, school: str) -> Principal:
    """The person an alert of `school` may be handed to, as they stand now."""
    return _principal(_colleague(uow, username, school))


def _principal(user: User) -> Principal:
    return Principal(user.username, user.school, user.role)


def _colleague(uow: UnitOfWork, username: str, school: str) -> User:
    user = uow.load_optional(ids.user_id(username), User) if username else None
    if user is None or user.disabled:
        raise NotFound(f"no user {username[:64]!r} to hand the alert to")
    found = _principal(user)
    if not can_handle_alerts(found) or not can_see_school(found, school):
        raise DomainError(
            f"{username} ({found.role.value}) cannot take this school's alerts: "
            "hand it to someone in the contact centre, the DSL, the headteacher or an admin"
        )
    return user


@dataclass(frozen=True)
class Handover:
    """An alert just handed over, and the text asked for to the colleague (`texted` None:
    they have no mobile on record, so whoever handed it over must tell them; or they took
    it over themself)."""

    alert: Alert
    to: str
    by: str
    texted: UUID | None


def hand_over(
    uow: UnitOfWork,
    alert_id: UUID,
    *,
    to: str,
    note: str,
    by: str,
    named: Callable[[str], str],
) -> Handover:
    """Hand the alert to colleague `to` and, in the same transaction, ask for a text to
    their mobile (the outbox sends it, retries it and tells the console if it fails).
    `named` words a recorded actor as people know them (the caller's rule)."""
    texted: list[UUID | None] = [None]
    taker_actor: list[str] = [""]

    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        user = _colleague(uow, to, alert.school)
        taker = _principal(user)
        now = uow.clock.now()
        says = handover_text(to=taker.actor, by=by, mobile=user.phone)
        alert.hand_over(to=taker.actor, note=note, by=by, timestamp=now, texted=says)
        taker_actor[0] = taker.actor
        texted[0] = None
        if says is not HandoverText.REQUESTED or not user.phone:
            return [alert]
        _, school_name, timezone = school_facts(uow, alert.school)
        plan = PlannedNotification(
            contact=taker.actor,
            contact_name=named(taker.actor),
            to=user.phone,
            channel=Channel.SMS,
            body=handover_message(
                short_code=ids.short_code(alert.id),
                kind=alert.kind,
                school_name=school_name,
                visitor=uow.directory.staff_name(alert.staff),
                handed_by=named(by),
                at=now,
                timezone=timezone,
            ),
            reason=f"the alert was handed to {taker.actor} by {by}",
            step=HANDOVER,
            purpose=f"{HANDOVER}:{alert.version}",
        )
        text = request_notification(plan, alert_id=alert.id, school=alert.school, timestamp=now)
        texted[0] = text.id
        return [alert, text]

    uow.retry_on_conflict(attempt)
    return Handover(uow.load(alert_id, Alert, "alert"), taker_actor[0], by, texted[0])


def colleagues(uow: UnitOfWork, school: str | None) -> list[Principal]:
    """Who an alert of `school` (None: any school) may be handed to: enabled users who
    take alerts and see that school, by username."""
    found = [_principal(u) for u in all_users(uow) if not u.disabled]
    return sorted(
        (
            p
            for p in found
            if can_handle_alerts(p) and (school is None or can_see_school(p, school))
        ),
        key=lambda p: p.username,
    )
