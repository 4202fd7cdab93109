"""Telling a school's alarm receiving centre (ARC): what is sent, each try recorded, and the
`arc_unreachable` alert when the ARC stays silent (INTERFACES §9).

The sending itself (frames, sockets, backoff) is the worker's (service/workers/arc_sender.py);
these use cases record what it did, on the `ArcMessage` whose events the alert's timeline shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from service.adapters.arc.dc09 import location_xdata, xdata_text
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind, Outcome
from service.domain.alerts.arc import ArcMessage, alarm_text, arc_code
from service.domain.errors import InvalidTransition
from service.domain.people.directory import Device, School, Staff

if TYPE_CHECKING:
    from service.application.lonewatch import Lonewatch


@dataclass(frozen=True)
class ArcOrder:
    """One message for the sender: which ARC, and what to say."""

    message_id: UUID
    alert_id: UUID
    school: str
    arc: dict[str, Any]
    code: str
    zone: int
    extended: list[list[str]]
    delivered: bool
    tries: int
    requested_at: datetime
    unreachable_alert: UUID | None


def _order(message: ArcMessage, arc: dict[str, Any]) -> ArcOrder:
    return ArcOrder(
        message_id=message.id,
        alert_id=message.alert_id,
        school=message.school,
        arc=arc,
        code=message.code,
        zone=message.zone,
        extended=message.extended,
        delivered=message.delivered,
        tries=message.tries,
        requested_at=message.requested_at,
        unreachable_alert=message.unreachable_alert,
    )


def school_arc(app: Lonewatch, school: str) -> dict[str, Any] | None:
    entry = app.load_optional(ids.school_id(school), School)
    return entry.arc if entry is not None else None


def request(
    app: Lonewatch, alert_id: UUID, *, resolved: bool, location: dict[str, Any] | None = None
) -> ArcOrder | None:
    """The message this alert (raised, or resolved) sends its school's ARC, recorded once:
    None when the school has no ARC, the kind is not told, or it was already requested
    (by this process or another sharing the store: the one that recorded it sends it; what
    is left unacknowledged is sent again by `pending` at the next start).

    `location` ({"lat", "lon"}) is the device's last known place, from the views."""
    alert = app.alert(alert_id)
    code = arc_code(alert.kind, resolved=resolved)
    arc = school_arc(app, alert.school) if code else None
    if code is None or arc is None:
        return None
    if app.exists(ArcMessage.create_id(alert_id, code)):
        return None
    device = app.load_optional(ids.device_id(alert.device), Device) if alert.device else None
    staff = app.load_optional(ids.staff_id(alert.staff), Staff) if alert.staff else None
    extended: list[list[str]] = []
    if location and location.get("lat") is not None and location.get("lon") is not None:
        extended.extend(list(pair) for pair in _location(location))
    extended.append(
        ["I", xdata_text(alarm_text(staff.name if staff else None, ids.short_code(alert_id)))]
    )
    message = ArcMessage(
        alert_id=alert_id,
        school=alert.school,
        code=code,
        zone=device.zone if device else 1,
        extended=extended,
        arc=f"{arc['url']} account {arc['account']}",
        timestamp=app.clock.now(),
    )
    try:
        app.save(message)
    except IntegrityError:
        return None  # another process recorded it first, and sends it
    return _order(message, arc)


def _location(location: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs = location_xdata(float(location["lat"]), float(location["lon"]))
    return tuple((i, xdata_text(v)) for i, v in pairs)


def pending(app: Lonewatch, message_ids: list[UUID]) -> list[ArcOrder]:
    """Those of these messages not yet acknowledged, whose school still has an ARC."""
    orders = []
    for message_id in message_ids:
        message = app.load_optional(message_id, ArcMessage)
        arc = school_arc(app, message.school) if message is not None else None
        if message is not None and arc is not None and not message.delivered:
            orders.append(_order(message, arc))
    return orders


def record_try(
    app: Lonewatch,
    message_id: UUID,
    *,
    attempt: int,
    sequence: int,
    answer: str | None,
    acknowledged: bool,
    detail: str,
) -> None:
    def attempt_() -> list[Aggregate]:
        message = app.load(message_id, ArcMessage, "ARC message")
        message.record_try(
            attempt=attempt,
            sequence=sequence,
            answer=answer,
            acknowledged=acknowledged,
            detail=detail,
            timestamp=app.clock.now(),
        )
        return [message]

    app.retry_on_conflict(attempt_)


def raise_unreachable(app: Lonewatch, message_id: UUID, *, after_s: float, error: str) -> UUID:
    """The ARC has not acknowledged this message for `after_s`: a red `arc_unreachable`
    alert on the console, raised the one way alarms are raised, saved with the record of it."""
    message = app.load(message_id, ArcMessage, "ARC message")
    if message.unreachable_alert is not None:
        return message.unreachable_alert
    now = app.clock.now()
    raised = app.raise_alert(
        key=f"arc:{message_id}",
        kind=AlertKind.ARC_UNREACHABLE,
        school=message.school,
        staff=None,
        device=None,
        cause={
            "arc_message": str(message_id),
            "alert": str(message.alert_id),
            "code": message.code,
            "arc": message.arc,
            "error": error,
        },
        now=now,
        notify=True,  # told to people only under an `arc_unreachable` policy (CONSOLE_ONLY)
    )
    message.record_unreachable(alert=raised[0].id, after_s=round(after_s, 1), timestamp=now)
    app.save(*raised, message)
    return raised[0].id


def raise_link_down(app: Lonewatch, school: str, *, since: datetime, error: str) -> UUID:
    """Supervision polls have gone unanswered: the same red alert, about the link."""
    key = f"arc-link:{school}:{since.isoformat()}"
    alert_id = ids.alert_id(key)
    if app.exists(alert_id):
        return alert_id
    arc = school_arc(app, school) or {}
    raised = app.raise_alert(
        key=key,
        kind=AlertKind.ARC_UNREACHABLE,
        school=school,
        staff=None,
        device=None,
        cause={
            "supervision": True,
            "arc": f"{arc.get('url')} account {arc.get('account')}",
            "error": error,
            "since": since.isoformat(),
        },
        now=app.clock.now(),
    )
    app.save(*raised)
    return alert_id


def arc_answered_again(app: Lonewatch, unreachable_alert: UUID, *, what: str) -> None:
    """The ARC acknowledged again: the `arc_unreachable` alert is closed, saying so (unless a
    person closed it first). Its timeline keeps the outage and the answer that ended it."""

    def attempt() -> list[Aggregate]:
        alert = app.load(unreachable_alert, Alert, "alert")
        try:
            alert.resolve(
                outcome=Outcome.OTHER,
                note=f"the ARC answered again: {what}",
                by="system:arc",
                timestamp=app.clock.now(),
            )
        except InvalidTransition:
            return []
        return [alert]

    app.retry_on_conflict(attempt)
