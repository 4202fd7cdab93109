"""Taking an alert from a phone: ACK by text (with or without the short code), or 1
pressed on a call. The reply says what happened, in words the person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from service.application.alerts import acknowledge_alert
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.alert import OPEN_ALERT_STATES, Alert
from service.domain.alerts.notifications import Notification
from service.domain.errors import InvalidTransition
from service.domain.people.naming import person

AlertFinder = Callable[[Sequence[str] | None], list[dict[str, Any]]]
"""Open alerts of some schools (None: every school), from the views: how a texted ACK
finds its alert."""


@dataclass(frozen=True)
class Taker:
    """Someone a phone number belongs to who may take an alert by text: of `school` (None:
    every school, an admin), recorded as `by` (a contact's name, a user's `role:username`)."""

    school: str | None
    by: str


def contact_acknowledges(
    uow: UnitOfWork,
    finder: AlertFinder | None,
    contacts: list[dict[str, str]],
    code: str | None,
    *,
    sender: str,
) -> str:
    """A directory contact's ACK, recorded by the contact's name."""
    takers = [Taker(c["school"], c["name"]) for c in contacts]
    return acknowledges_by_text(uow, finder, takers, code, sender=sender)


def acknowledges_by_text(
    uow: UnitOfWork,
    finder: AlertFinder | None,
    takers: Sequence[Taker],
    code: str | None,
    *,
    sender: str,
) -> str:
    """ACK with a short code takes that alert (of the takers' schools); a bare ACK takes the
    most recent open alert this phone was told of that nobody has taken yet (else says who
    took the most recent). Several people on one number: the one of the alert's school
    takes it (else the first). The reply says what happened."""
    if finder is None:
        return "Lonewatch: acknowledgement by text is not available; use the console."
    every = any(t.school is None for t in takers)
    schools = None if every else sorted({str(t.school) for t in takers})
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
    taker = next((t for t in takers if t.school == chosen["school"]), takers[0])
    return _take(uow, UUID(chosen["id"]), taker.by, via="sms")


def _take(uow: UnitOfWork, alert_id: UUID, by: str, *, via: str) -> str:
    code = ids.short_code(alert_id)
    try:
        alert = acknowledge_alert(uow, alert_id, by=by, via=via)
    except InvalidTransition:
        alert = uow.load(alert_id, Alert, "alert")
        if alert.handed_to == by:  # a colleague answering the text saying it is theirs
            return f"Lonewatch: alert {code} is already yours: it was handed to you."
        return f"Lonewatch: alert {code} was already taken by {person(alert.acknowledged_by)}."
    return (
        f"Lonewatch: you have taken alert {code} ({alert.kind.value}). "
        "Everyone else told of it is being told you have it."
    )


def acknowledge_by_key(uow: UnitOfWork, notification_id: UUID, digits: str) -> str:
    """A callee pressed a key: only 1 takes the alert. Returns the words to read back."""
    notification = uow.load(notification_id, Notification, "notification")
    if digits.strip() != "1":
        return "That was not 1. The alert is not taken."
    reply = _take(uow, notification.alert_id, notification.contact_name, via="voice")
    return reply.removeprefix("Lonewatch: ")


def find_by_schools(views: Any) -> AlertFinder:
    """An alert finder over the views (wiring passes it to the application)."""

    def find(schools: Sequence[str] | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = views.find(
            "alert",
            schools=None if schools is None else list(schools),
            states=list(OPEN_ALERT_STATES),
            limit=10_000,
        )
        return found

    return find
