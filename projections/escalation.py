"""The escalation's read side: timers for the ladder, and what the console shows of it.

Pure handlers like projections/views.py (which calls them after its own for the
same event): an event and the documents it touches in, documents out.

Timers (projections/timers.py; fired by service/workers/scheduler.py): `escalate:{alert}:{n}` fires the ladder's next
step (the first at once, when the alert is raised); `announce:{alert}` tells
everyone already told who took the alert; `unconfirmed:{notification}` gives a
try cut short by a restart its deadline for a status report. Each is settled by
the event its action records, or cancelled when the alert is taken.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from projections.timers import timer_doc
from service.domain.alerts.notifications import UNDELIVERED, UNREPORTED_AFTER_SECONDS

Doc = dict[str, Any]
Handler = Callable[[Any, Callable[[str, str], Doc | None], Any], None]


def _name(event: object) -> str:
    return type(event).__qualname__


def _current(fx: Any, read: Callable[[str, str], Doc | None], kind: str, doc_id: str) -> Doc | None:
    """The document as the handlers before this one left it (they run on one event)."""
    found = fx.docs.get((kind, doc_id))
    if found is None:
        found = read(kind, doc_id)
    return dict(found) if found is not None else None


def _settle(
    fx: Any, read: Callable[[str, str], Doc | None], timer_id: str | None, state: str
) -> None:
    if not timer_id:
        return
    timer = _current(fx, read, "timer", timer_id)
    if timer is not None and timer.get("state") == "pending":
        timer["state"] = state
        fx.docs[("timer", timer_id)] = timer


def _iso(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def alert_escalation(event: Any, read: Callable[[str, str], Doc | None], fx: Any) -> None:
    name = _name(event)
    alert_id = str(event.originator_id)
    esc = _current(fx, read, "escalation", alert_id) or {
        "id": alert_id,
        "timer": None,
        "sequence": 0,
        "stopped": False,
    }
    alert = _current(fx, read, "alert", alert_id)
    school = getattr(event, "school", None) or (alert or {}).get("school")
    if name == "Alert.Raised":
        timer_id = f"escalate:{alert_id}:0"
        fx.docs[("timer", timer_id)] = timer_doc(
            timer_id, action="escalate", due_at=event.timestamp, school=school, alert_id=alert_id
        )
        esc["timer"] = timer_id
    elif name == "Alert.Escalated":
        step = event.step
        _settle(fx, read, esc.get("timer"), "done")
        esc["timer"] = None
        if step.get("taken_by"):
            esc["stopped"] = True
            _settle(fx, read, f"announce:{alert_id}", "done")
        elif step.get("next_due_at"):
            esc["sequence"] = int(esc["sequence"]) + 1
            timer_id = f"escalate:{alert_id}:{esc['sequence']}"
            fx.docs[("timer", timer_id)] = timer_doc(
                timer_id,
                action="escalate",
                due_at=datetime.fromisoformat(_iso(step["next_due_at"]) or ""),
                school=school,
                alert_id=alert_id,
            )
            esc["timer"] = timer_id
        if alert is not None:
            summary = dict(alert.get("escalation") or {"steps": []})
            summary["steps"] = [
                *summary.get("steps", []),
                {"step": step["step"], "reason": step["reason"], "at": event.timestamp.isoformat()},
            ]
            if step.get("policy"):
                summary["policy"] = step["policy"]
            summary.update(
                tier=step["tier"], round=step["round"], next_due_at=_iso(step.get("next_due_at"))
            )
            alert["escalation"] = summary
            alert["updated_at"] = event.timestamp.isoformat()
            fx.docs[("alert", alert_id)] = alert
            fx.subjects.append(f"alert:{alert_id}")
    elif name in ("Alert.Acknowledged", "Alert.Resolved"):
        _settle(fx, read, esc.get("timer"), "cancelled")
        esc["timer"] = None
        announce = f"announce:{alert_id}"
        if not esc["stopped"] and _current(fx, read, "timer", announce) is None:
            fx.docs[("timer", announce)] = timer_doc(
                announce,
                action="announce_taken",
                due_at=event.timestamp,
                school=school,
                alert_id=alert_id,
            )
    fx.docs[("escalation", alert_id)] = esc


_NOTIFICATION_STATES = {
    "Notification.Unconfirmed": "unknown",
    "Notification.Cancelled": "cancelled",
}


def notification_delivery(event: Any, read: Callable[[str, str], Doc | None], fx: Any) -> None:
    """Tries, delivery reports and their times, on the notification and its alert's summary."""
    name = _name(event)
    notification_id = str(event.originator_id)
    doc = _current(fx, read, "notification", notification_id)
    if doc is None:
        return
    at = event.timestamp.isoformat()
    doc["changed_at"] = at
    if name == "Notification.AttemptStarted":
        doc.update(in_flight=True, attempt_started_at=at)
    elif name in ("Notification.Sent", "Notification.AttemptFailed"):
        doc["in_flight"] = False
    elif name == "Notification.Refused":
        doc.update(
            state="failed",
            in_flight=False,
            attempts=int(doc.get("attempts") or 0) + 1,
            error=event.error,
            refusal=event.words,
            refusal_code=event.code,
            failed_at=at,
        )
    elif name in _NOTIFICATION_STATES:
        doc.update(state=_NOTIFICATION_STATES[name], in_flight=False, error=event.reason)
        if name == "Notification.Unconfirmed":
            timer_id = f"unconfirmed:{notification_id}"
            fx.docs[("timer", timer_id)] = timer_doc(
                timer_id,
                action="check_unconfirmed",
                due_at=event.timestamp + timedelta(seconds=UNREPORTED_AFTER_SECONDS),
                school=doc.get("school"),
                notification_id=notification_id,
            )
    elif name == "Notification.StatusReported":
        _settle(fx, read, f"unconfirmed:{notification_id}", "done")
        statuses = [*doc.get("statuses", []), event.status]
        doc["statuses"] = statuses
        doc["status_at"] = at
        if not (event.status == "completed" and doc.get("delivery")):  # keep "answered", "machine"
            doc.update(delivery=event.status, answered_by=event.answered_by)
        doc["provider_id"] = doc.get("provider_id") or event.provider_id
        if event.status in ("delivered", "answered"):
            doc.setdefault("delivered_at", at)
        if doc["state"] == "unknown" and event.status not in UNDELIVERED:
            doc["state"] = "sent"
    fx.docs[("notification", notification_id)] = doc
    alert = _current(fx, read, "alert", doc["alert_id"])
    if alert is None:
        return
    summary = dict(alert.get("notifications") or {})
    entry = dict(summary.get(notification_id) or {})
    entry.update(
        contact=doc.get("contact"),
        contact_name=doc["contact_name"],
        to=doc["to"],
        channel=doc["channel"],
        state=doc["state"],
        error=doc.get("error"),
        step=doc.get("step"),
        reason=doc.get("reason"),
        requested_at=doc.get("requested_at"),
        sent_at=doc.get("sent_at"),
        delivery=doc.get("delivery"),
        delivered_at=doc.get("delivered_at"),
        status_at=doc.get("status_at"),
        failed_at=doc.get("failed_at"),
        refusal=doc.get("refusal"),
        changed_at=at,
    )
    summary[notification_id] = entry
    alert["notifications"] = summary
    fx.docs[("alert", doc["alert_id"])] = alert
    if name not in ("Notification.Requested", "Notification.Sent", "Notification.AttemptFailed"):
        # Those three are announced by projections/views.py, which handles them first.
        fx.subjects.append(f"alert:{doc['alert_id']}")


ESCALATION_HANDLERS: dict[str, tuple[Handler, ...]] = {
    "Alert.Raised": (alert_escalation,),
    "Alert.Escalated": (alert_escalation,),
    "Alert.Acknowledged": (alert_escalation,),
    "Alert.Resolved": (alert_escalation,),
    **{
        f"Notification.{n}": (notification_delivery,)
        for n in (
            "Requested",
            "Sent",
            "AttemptFailed",
            "AttemptStarted",
            "Unconfirmed",
            "Cancelled",
            "StatusReported",
            "Refused",
        )
    },
}
