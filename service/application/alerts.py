"""Raising, taking and resolving an alert.

`raise_alert` is the one way an alarm is raised, whatever raised it (a device, a text, a
deadline, a failed notification). Taking an alert by text or key press is in
`acknowledgement`; what the ladder does next is in `escalation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.unit_of_work import UnitOfWork
from service.application.visits import current_visit
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind, Outcome
from service.domain.alerts.escalation import (
    alert_message,
    first_notifications,
    request_notification,
)
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import location_of
from service.domain.devices.messages import DeviceMessage
from service.domain.people.directory import Staff
from service.domain.visits.states import OUT


def raise_alert(
    uow: UnitOfWork,
    *,
    key: str,
    kind: AlertKind,
    school: str,
    staff: str | None,
    device: str | None,
    cause: dict[str, Any],
    now: datetime,
    silent: bool = False,
    notify: bool = True,
    visitor: str | None = None,
) -> list[Aggregate]:
    """The alert and, with `notify`, its tier-1 requests, unsaved, for the caller to save
    with whatever caused it, in one transaction.

    `notify=False` for alerts whose first messages come from elsewhere (the visit's own
    overdue ladder) or that are for the console itself (a notification that failed).
    `visitor` saves a store read when the caller already knows the staff member's name.
    An alarm about someone out on a home visit names the visit and its address in its
    cause, so its texts and calls say where (`visit_cause`)."""
    if notify and staff and "visit" not in cause:
        cause = {**cause, **visit_cause(uow, staff)}
    alert = Alert(
        key=key,
        kind=kind.value,
        school=school,
        device=device,
        staff=staff,
        cause=cause,
        silent=silent,
        timestamp=now,
    )
    if not notify:
        return [alert]
    entry = uow.directory.school(school)
    if visitor is None and staff:
        visitor = uow.directory.staff_name(staff)
    body = alert_message(
        kind=alert.kind,
        short_code=ids.short_code(alert.id),
        school_name=entry.name,
        visitor=visitor,
        device=device,
        raised_at=alert.raised_at,
        timezone=entry.timezone,
        where=describe_location(cause.get("location")),
        visit_address=cause.get("visit_address"),
    )
    return [
        alert,
        *(
            request_notification(
                plan, alert_id=alert.id, school=school, body=body, timestamp=alert.raised_at
            )
            for plan in first_notifications(kind=alert.kind, school=entry.data, body=body)
        ),
    ]


def visit_cause(uow: UnitOfWork, staff: str) -> dict[str, Any]:
    """The visit `staff` is signed out on, if it is still out: its id and address. Two reads
    of the store, paid only when an alarm is raised, never per message."""
    visit = current_visit(uow, staff)
    if visit is None or visit.state not in OUT:
        return {}
    return {"visit": str(visit.id), "visit_address": visit.address}


def device_cause(message: DeviceMessage) -> dict[str, Any]:
    """What a device alert records as its cause: the message, and where the device was
    (shown on the alert, in its SMS and call, the console and the replay)."""
    cause: dict[str, Any] = {"device_message": str(message.id), "device_kind": message.kind}
    location = location_of(message.fields)
    if location is not None:
        cause["location"] = location
    if message.fields.get("source"):
        cause["source"] = message.fields["source"]
    return cause


def raise_staff_alert(
    uow: UnitOfWork,
    staff_key: str,
    kind: AlertKind,
    *,
    cause_key: str,
    cause: dict[str, Any],
    silent: bool = False,
) -> UUID:
    """An alert about a person rather than a device (HELP or the safe word by text): saved."""
    staff = uow.load(ids.staff_id(staff_key), Staff, f"staff member {staff_key!r}")
    raised = raise_alert(
        uow,
        key=cause_key,
        kind=kind,
        school=staff.school,
        staff=staff_key,
        device=None,
        cause=cause,
        now=uow.clock.now(),
        silent=silent,
        visitor=staff.name,
    )
    uow.save(*raised)
    return raised[0].id


def acknowledge_alert(uow: UnitOfWork, alert_id: UUID, *, by: str, via: str) -> Alert:
    result: list[Alert] = []

    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        alert.acknowledge(by=by, via=via, timestamp=uow.clock.now())
        result[:] = [alert]
        return [alert]

    uow.retry_on_conflict(attempt)
    return result[0]


def resolve_alert(
    uow: UnitOfWork, alert_id: UUID, *, outcome: Outcome, note: str, by: str
) -> Alert:
    result: list[Alert] = []

    def attempt() -> list[Aggregate]:
        alert = uow.load(alert_id, Alert, "alert")
        alert.resolve(outcome=outcome, note=note, by=by, timestamp=uow.clock.now())
        result[:] = [alert]
        return [alert]

    uow.retry_on_conflict(attempt)
    return result[0]
