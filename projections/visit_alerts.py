"""An alarm raised while a visitor is out is part of that visit.

An SOS pressed at a pupil's home used to stand alone: the alert had no address, and the
visit board said "At the property" while three red alerts were open for the visitor. Here
an alert is tied to the visit its cause names (the overdue ladder's alerts) or, for a
device's alarm, the visit that device is out on when the alarm is raised; the alert then
carries the visit (where, who is there, their numbers) and the board row carries the
alert, each kept up to date as the alert is taken and resolved. All of it is derived from
the events in order, so a rebuild or a replay gives the same links.
"""

from __future__ import annotations

from typing import Any

from projections.core import Doc, Effects, Reader, event_name
from projections.visit_devices import board
from service.domain.people.confidentiality import raised_silent
from service.domain.visits.states import OUT

_OUT = frozenset(state.value for state in OUT)
_STATE_AFTER = {"Alert.Acknowledged": "acknowledged", "Alert.Resolved": "resolved"}


def visit_out_with(read: Reader, fx: Effects, device: str | None) -> str | None:
    """The visit `device` is out on now, if any (the device doc names it while it is)."""
    if not device:
        return None
    found = fx.docs.get(("device", device)) or read("device", device) or {}
    visit = found.get("visit")
    if not visit:
        return None
    doc = board(read, fx, str(visit))
    return str(visit) if doc is not None and doc.get("state") in _OUT else None


def alert_joins_visit(event: Any, read: Reader, fx: Effects, visit: str) -> None:
    """`Alert.Raised` for an alert of `visit`: each names the other."""
    alert = str(event.originator_id)
    fx.docs[("alert-visit", alert)] = {"id": alert, "visit": visit}
    doc = board(read, fx, visit)
    if doc is None:
        return
    doc["alerts"] = [
        *doc.get("alerts", []),
        {
            "id": alert,
            "kind": event.kind,
            "state": "raised",
            "raised_at": _iso(event),
            # Whom it is shown to (service/domain/people/confidentiality.py) goes by this flag;
            # an event stored before the flag existed is silent by its kind.
            "silent": raised_silent(event.kind, getattr(event, "silent", None)),
        },
    ]
    alert_doc = fx.docs.get(("alert", alert)) or read("alert", alert)
    if alert_doc is not None:
        fx.docs[("alert", alert)] = {**alert_doc, "visit": _visit_facts(read, doc)}


def alert_changed(event: Any, read: Reader, fx: Effects, visit: str) -> None:
    """Taken or resolved: the board row says so."""
    state = _STATE_AFTER.get(event_name(event))
    doc = board(read, fx, visit) if state else None
    if doc is None:
        return
    alert = str(event.originator_id)
    doc["alerts"] = [
        {**a, "state": state} if a.get("id") == alert else a for a in doc.get("alerts", [])
    ]


def _visit_facts(read: Reader, doc: Doc) -> Doc:
    """What the person taking the alert needs of the visit: where, who, how to reach them.
    Not the pupil's reference: the console shows it only to those allowed to see it."""
    visitors = []
    for staff in doc.get("staff", []):
        person = read("staff", staff) or {}
        visitors.append(
            {"id": staff, "name": person.get("name", staff), "phone": person.get("phone")}
        )
    return {
        "id": doc["id"],
        "ref": doc.get("ref"),
        "address": doc.get("address"),
        "state_when_raised": doc.get("state"),
        "lone": doc.get("lone"),
        "expected_return": doc.get("expected_return"),
        "visitors": visitors,
    }


def _iso(event: Any) -> str:
    return str(event.timestamp.isoformat())
