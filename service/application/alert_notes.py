"""Working an open alert: a note added, the alert handed over to a named colleague.

Each is recorded on the alert (`Alert.NoteAdded`, `Alert.HandedOver`), so the feed, the
timeline and the printed record all show it; the colleague is checked against the users
as they stand (enabled, one who takes alerts, of the alert's school).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.unit_of_work import UnitOfWork
from service.application.users import all_users
from service.domain import ids
from service.domain.alerts.alert import Alert
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
    user = uow.load_optional(ids.user_id(username), User) if username else None
    if user is None or user.disabled:
        raise NotFound(f"no user {username[:64]!r} to hand the alert to")
    found = Principal(user.username, user.school, user.role)
    if not can_handle_alerts(found) or not can_see_school(found, school):
        raise DomainError(
            f"{username} ({found.role.value}) cannot take this school's alerts: "
            "hand it to someone in the contact centre, the DSL, the headteacher or an admin"
        )
    return found


def hand_over(uow: UnitOfWork, alert_id: UUID, *, to: str, note: str, by: str) -> Alert:
    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        taker = colleague(uow, to, alert.school)
        alert.hand_over(to=taker.actor, note=note, by=by, timestamp=uow.clock.now())
        return [alert]

    uow.retry_on_conflict(attempt)
    return uow.load(alert_id, Alert, "alert")


def colleagues(uow: UnitOfWork, school: str | None) -> list[Principal]:
    """Who an alert of `school` (None: any school) may be handed to: enabled users who
    take alerts and see that school, by username."""
    found = [Principal(u.username, u.school, u.role) for u in all_users(uow) if not u.disabled]
    return sorted(
        (
            p
            for p in found
            if can_handle_alerts(p) and (school is None or can_see_school(p, school))
        ),
        key=lambda p: p.username,
    )
