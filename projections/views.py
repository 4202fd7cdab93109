"""The read models as pure functions: an event and the documents it touches in,
the documents as they now stand out. Nothing here reads a database or a clock."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from projections.alert_texts import ALERT_TEXT_HANDLERS, raised_by_app_message
from projections.alert_work import ALERT_WORK_HANDLERS
from projections.arc import ARC_FILTER_COLUMNS, ARC_HANDLERS
from projections.core import Doc, Effects, Reader, event_name
from projections.escalation import ESCALATION_HANDLERS
from projections.visits import VISIT_FILTER_COLUMNS, VISIT_HANDLERS
from service.domain import ids
from service.domain.devices.health import SILENCE_REPORTS, battery_low
from service.domain.devices.location import location_of
from service.domain.devices.messages import ALARM_KINDS, FACT_KINDS, DeviceMessage


def project(event: DomainEventProtocol[UUID], read: Reader) -> Effects:
    """Dispatch on the event's stable name (`Alert.Raised`): it is what the store records."""
    effects = Effects()
    for handler in _handlers_of(type(event).__qualname__):
        handler(event, read, effects)
    return effects


@functools.cache
def _handlers_of(name: str) -> tuple[Callable[[Any, Reader, Effects], None], ...]:
    """The views' handler, the visits' and the escalation's, in that order: looked up once
    per event name, not three times per event (a rebuild projects a million)."""
    found = (_HANDLERS.get(name), VISIT_HANDLERS.get(name), *ESCALATION_HANDLERS.get(name, ()))
    return tuple(handler for handler in found if handler is not None)


# -- directory -----------------------------------------------------------------

_ENTRY_KINDS: dict[str, str] = {
    "School.Registered": "school",
    "Staff.Registered": "staff",
    "Device.Registered": "device",
}
_PRIVATE = frozenset({"safe_word_hash", "secret_hash"})


def _directory(event: Any, read: Reader, fx: Effects) -> None:
    entry_id = str(event.originator_id)
    kind = _ENTRY_KINDS.get(event_name(event), "")
    if kind:
        key = event.key
        fx.docs[("entry", entry_id)] = {"kind": kind, "key": key}
    else:
        entry = read("entry", entry_id)
        if entry is None:
            return
        kind, key = entry["kind"], entry["key"]
    public = {k: v for k, v in event.data.items() if k not in _PRIVATE}
    if isinstance(public.get("arc"), dict):  # the ARC's AES key stays in the store
        arc = public["arc"]
        public["arc"] = {k: v for k, v in arc.items() if k != "key"} | {"encrypted": "key" in arc}
    doc = dict(read(kind, key) or {})
    doc.update(public, id=key)
    if kind == "device":
        doc.setdefault("counts", {})
        doc["has_secret"] = bool(event.data.get("secret_hash"))
        staff = read("staff", str(public.get("staff") or "")) if public.get("staff") else None
        doc["staff_name"] = staff["name"] if staff else None
    if kind == "staff":
        doc["has_safe_word"] = bool(event.data.get("safe_word_hash"))
    fx.docs[(kind, key)] = doc
    fx.docs[("directory-changed", "latest")] = {"entry": entry_id, "kind": kind, "key": key}


# -- devices -------------------------------------------------------------------


_last_instant: tuple[object, str] = (None, "")
"""The last heartbeat time written out, and how: a gateway group's events share one
timestamp object (the intake's `now`), and an aware datetime's `isoformat` costs ~0.8 µs,
once per heartbeat and twice with a position. Compared by identity only (a decoded event's
are new objects, and are written out afresh); swapped as one tuple, so a reader on another
thread sees a matching pair."""


def _instant(when: datetime) -> str:
    global _last_instant
    last, text = _last_instant
    if when is last:
        return text
    text = when.isoformat()
    _last_instant = (when, text)
    return text


def _device_message(event: Any, read: Reader, fx: Effects) -> None:
    # The hottest handler (every heartbeat, a million in a rebuild): attributes read once.
    device_id, kind = event.device, event.kind
    fields = event.fields or _NO_FIELDS
    fx.docs[("device", device_id)] = _device_document(event, read, device_id, kind, fields)
    staff = event.staff
    fx.subjects += (f"device:{device_id}", f"staff:{staff}") if staff else (f"device:{device_id}",)
    if fields.get("alert_id"):  # a press that joined its device's open alert
        fx.subjects.append(f"alert:{fields['alert_id']}")
    elif kind in ALARM_KINDS:
        alert_id = ids.alert_id(ids.alert_key_for_message(event.originator_id))
        fx.subjects.append(f"alert:{alert_id}")
    elif kind == "message" and fields.get("text"):  # the visitor's words, on a duress
        raised = raised_by_app_message(event.originator_id, str(fields["text"]))
        if raised is not None:
            fx.subjects.append(f"alert:{raised}")


def plain_device_message(event: Any, read: Reader) -> tuple[Doc, tuple[str, ...]] | None:
    """What `project` gives a plain reading (a heartbeat, a checkin, a battery or location
    report that joined no alert, from a device on no visit), without its `Effects`: the
    device's document and the timeline subjects, each made as `_device_message` makes them;
    None when it is not one, and `project` is needed. A flood is almost all such readings,
    and the general dispatch cost as much again as the document (projections/projector.py).
    The visits' handler does nothing for a device with no visit, the escalation's have none
    for a device message: tests/unit/test_plain_device_messages.py compares the two ways."""
    device_id, kind = event.device, event.kind
    if kind not in FACT_KINDS:
        return None
    fields = event.fields or _NO_FIELDS
    if fields.get("alert_id"):
        return None
    device = _device_document(event, read, device_id, kind, fields)
    if device.get("visit"):  # the visits' handler has a watch to keep
        return None
    staff = event.staff
    return device, (
        (f"device:{device_id}", f"staff:{staff}") if staff else (f"device:{device_id}",)
    )


def _device_document(
    event: Any, read: Reader, device_id: str, kind: str, fields: dict[str, Any]
) -> Doc:
    """The device's document after one of its messages (every kind: health, counts, the
    last location)."""
    stored = read("device", device_id)
    device: Doc = stored.copy() if stored else {"id": device_id, "counts": {}}
    counts = device.get("counts")
    if counts:
        counts = counts.copy()
        counts[kind] = counts.get(kind, 0) + 1
        device["counts"] = counts
    else:
        device["counts"] = {kind: 1}
    at = _instant(event.timestamp)
    if kind not in SILENCE_REPORTS:
        device["last_seen"] = at
    device["last_kind"] = kind
    battery = fields.get("battery")
    if battery is not None:
        device["battery"] = battery
        school = read("school", str(device.get("school") or event.school)) or _NO_FIELDS
        policy = school.get("policy")
        device["low_battery"] = battery_low(
            battery, policy.get("low_battery_below") if policy else None
        )
    if "clock_skew_seconds" in fields:
        device["clock_skew_seconds"] = fields["clock_skew_seconds"]
    elif event.device_ts is not None:
        device.pop("clock_skew_seconds", None)
    if fields.get("lat") is not None and fields.get("lon") is not None:
        device["location"] = {
            "lat": fields["lat"],
            "lon": fields["lon"],
            "acc": fields.get("acc"),
            **(location_of(fields) or {}),  # the address where known, the map link
            "at": at,
        }
    return device


_NO_FIELDS: dict[str, Any] = {}
"""Read only: a message without fields, a school without a document."""


# -- alerts --------------------------------------------------------------------


def _alert(event: Any, read: Reader, fx: Effects) -> None:
    name = event_name(event)
    alert_id = str(event.originator_id)
    at = event.timestamp.isoformat()
    if name == "Alert.Raised":
        school = read("school", event.school) or {}
        staff = read("staff", event.staff) if event.staff else None
        device = read("device", event.device) if event.device else None
        doc: Doc = {
            "id": alert_id,
            "short_code": ids.short_code(event.originator_id),
            "kind": event.kind,
            "severity": _severity(event.kind),
            "state": "raised",
            "school": event.school,
            "school_name": school.get("name"),
            "device": event.device,
            "staff": event.staff,
            "staff_name": staff.get("name") if staff else None,
            # To ring the person back from the card even when the alert is on no visit.
            "staff_phone": staff.get("phone") if staff else None,
            "location": device.get("location") if device else None,
            "silent": bool(getattr(event, "silent", False)),
            "presses": 1,
            "cause": event.cause,
            "raised_at": at,
            "notifications": {},
            "acknowledged_by": None,
            "acknowledged_at": None,
            "outcome": None,
            "note": None,
            "resolved_by": None,
            "resolved_at": None,
        }
        if event.staff:
            fx.subjects.append(f"staff:{event.staff}")
    else:
        existing = read("alert", alert_id)
        if existing is None:
            return
        doc = dict(existing)
        if name == "Alert.Notified":
            if doc["state"] == "raised":
                doc["state"] = "notified"
        elif name == "Alert.PressedAgain":
            doc["presses"] = int(doc.get("presses") or 1) + int(event.count)
        elif name == "Alert.Acknowledged":
            doc.update(state="acknowledged", acknowledged_by=event.by, acknowledged_at=at)
            doc["acknowledged_via"] = event.via
        elif name == "Alert.Resolved":
            doc.update(
                state="resolved",
                outcome=event.outcome,
                note=event.note,
                resolved_by=event.by,
                resolved_at=at,
            )
    doc["updated_at"] = at
    fx.docs[("alert", alert_id)] = doc
    fx.subjects.append(f"alert:{alert_id}")


def _severity(kind: str) -> str:
    from service.domain.alerts.alert import SEVERITY_OF, AlertKind

    return SEVERITY_OF[AlertKind(kind)].value


# -- notifications (the outbox) ----------------------------------------------------


def _notification(event: Any, read: Reader, fx: Effects) -> None:
    name = event_name(event)
    notification_id = str(event.originator_id)
    at = event.timestamp.isoformat()
    if name == "Notification.Requested":
        doc: Doc = {
            "id": notification_id,
            "alert_id": str(event.alert_id),
            "school": event.school,
            "contact": event.contact,
            "contact_name": event.contact_name,
            "to": event.to,
            "channel": event.channel,
            "body": event.body,
            "reason": event.reason,
            "step": event.step,
            "state": "requested",
            "attempts": 0,
            "requested_at": at,
            "provider_id": None,
            "error": None,
        }
    else:
        existing = read("notification", notification_id)
        if existing is None:
            return
        doc = dict(existing)
        doc["attempts"] = int(doc.get("attempts", 0)) + 1
        if name == "Notification.Sent":
            doc.update(state="sent", provider_id=event.provider_id, sent_at=at)
        elif name == "Notification.AttemptFailed":
            doc["error"] = event.error
            if event.final:
                doc.update(state="failed", failed_at=at)
    fx.docs[("notification", notification_id)] = doc
    alert = read("alert", doc["alert_id"])
    if alert is not None:
        alert = dict(alert)
        summary = dict(alert.get("notifications") or {})
        summary[notification_id] = {
            "contact_name": doc["contact_name"],
            "to": doc["to"],
            "channel": doc["channel"],
            "state": doc["state"],
            "error": doc["error"],
            "step": doc["step"],
        }
        alert["notifications"] = summary
        fx.docs[("alert", doc["alert_id"])] = alert
    fx.subjects.append(f"alert:{doc['alert_id']}")


# -- audit trail (who viewed which record; sign-ins) ---------------------------------


def _audit(event: Any, read: Reader, fx: Effects) -> None:
    name = event_name(event)
    at = event.timestamp.isoformat()
    if name == "RecordAccess.Viewed":
        doc: Doc = {
            "id": str(event.originator_id),
            "at": at,
            "actor": event.actor,
            "role": event.role,
            "school": event.school,
            "action": event.access,
            "subject": event.subject,
            "detail": event.detail,
        }
    elif name == "ConsoleSession.Started":
        doc = {
            "id": f"{event.originator_id}:1",
            "at": at,
            "actor": f"{event.role}:{event.username}",
            "role": event.role,
            "school": event.school,
            "action": "signed_in",
            "subject": None,
            "detail": event.client,
        }
    else:
        started = read("audit", f"{event.originator_id}:1")
        if started is None:
            return
        doc = dict(started)
        doc.update(
            id=f"{event.originator_id}:{event.originator_version}",
            at=at,
            action="signed_out",
            detail=event.reason,
        )
    doc.update(record=str(event.originator_id), version=event.originator_version)
    fx.docs[("audit", doc["id"])] = doc
    fx.subjects.append("audit")  # the index keeps them in recorded order


_HANDLERS: dict[str, Callable[[Any, Reader, Effects], None]] = {
    "School.Registered": _directory,
    "Staff.Registered": _directory,
    "Device.Registered": _directory,
    "DirectoryEntry.Updated": _directory,
    "DeviceMessage.Received": _device_message,
    "Alert.Raised": _alert,
    "Alert.Notified": _alert,
    "Alert.PressedAgain": _alert,
    "Alert.Acknowledged": _alert,
    "Alert.Resolved": _alert,
    "Notification.Requested": _notification,
    "Notification.Sent": _notification,
    "Notification.AttemptFailed": _notification,
    "RecordAccess.Viewed": _audit,
    "ConsoleSession.Started": _audit,
    "ConsoleSession.Ended": _audit,
    **ARC_HANDLERS,
    **ALERT_WORK_HANDLERS,
    **ALERT_TEXT_HANDLERS,
}

# Documents of these kinds are stored with their school and state columns for filtering.
FILTER_COLUMNS: dict[str, tuple[str | None, str | None]] = {
    "alert": ("school", "state"),
    "notification": ("school", "state"),
    "device": ("school", None),
    "staff": ("school", None),
    "timer": ("school", "state"),
    **VISIT_FILTER_COLUMNS,
    "audit": ("school", None),
    **ARC_FILTER_COLUMNS,
}

_RECEIVED: type[Any] = DeviceMessage.Received  # type: ignore[attr-defined]
PLAIN_DEVICE_MESSAGE: type[Any] | None = (
    _RECEIVED
    if _handlers_of(_RECEIVED.__qualname__)
    == (_device_message, VISIT_HANDLERS["DeviceMessage.Received"])
    else None
)
"""The event class `plain_device_message` may stand in for `project` on: a device message,
while its handlers are the views' and the visits' alone (a handler added for it turns the
shortcut off)."""
