"""The visit board and the console's tasks, as pure projection handlers.

`visit` documents are the board: who is out, where, due back when, in what state,
and when their device was last heard from. The timers its events set and settle:
projections/visit_timers.py; its events in the timeline's words:
projections/visit_timeline.py.

A device's `checkin` is handled here, from the recorded `DeviceMessage.Received`
event, not by a call from the gateway: the projection turns it into a timer due at
once, so it survives restarts and replays like every other deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from projections.core import Doc, Effects, Reader
from projections.visit_alerts import alert_changed, alert_joins_visit, visit_out_with
from projections.visit_devices import board, device_message, link_device
from projections.visit_during import DURING_EVENTS, app_text_read
from projections.visit_readiness import BEFORE_HANDLERS, refresh_policy, risk_reassessed
from projections.visit_timers import next_ladder_step, set_timer, settle, watch_device
from service.domain.people.directory import timezone_of
from service.domain.visits.overdue_ladder import (
    CALL_HOME_TASK,
    DEFAULT_OFFLINE_AFTER,
    task_opened,
)
from service.domain.visits.rules import LOW_BATTERY_BELOW
from service.domain.visits.tasks import concern_task, task_for_role

Handler = Callable[[Any, Reader, Effects], None]


def _name(event: object) -> str:
    return type(event).__qualname__


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _close_tasks(read: Reader, fx: Effects, doc: Doc, prefix: str, state: str, at: str) -> None:
    for task_id in doc.get("tasks", []):
        if not task_id.startswith(prefix):
            continue
        task = fx.docs.get(("task", task_id)) or read("task", task_id)
        if task is not None and task["state"] == "open":
            fx.docs[("task", task_id)] = {**task, "state": state, "closed_at": at}


def _task(fx: Effects, doc: Doc, task_id: str, for_role: str, what: str, at: str) -> None:
    fx.docs[("task", task_id)] = {
        "id": task_id,
        "school": doc["school"],
        "visit": doc["id"],
        "for_role": for_role,
        "what": what,
        "state": "open",
        "created_at": at,
        "staff_names": doc["staff_names"],
    }
    doc["tasks"] = sorted({*doc.get("tasks", []), task_id})


def _visit(event: Any, read: Reader, fx: Effects) -> None:
    name = _name(event).removeprefix("Visit.")
    visit = str(event.originator_id)
    at = event.timestamp.isoformat()
    if name == "Planned":
        school = read("school", event.school) or {}
        names = [(read("staff", s) or {}).get("name", s) for s in event.staff]
        zone = ZoneInfo(timezone_of(school))
        doc: Doc | None
        doc = {
            "id": visit,
            "ref": event.ref,
            "school": event.school,
            "school_name": school.get("name"),
            "staff": list(event.staff),
            "staff_names": names,
            "lone": len(event.staff) == 1,
            "pupil_ref": event.pupil_ref,
            "address": event.address,
            "purpose": event.purpose,
            "doorstep": event.doorstep,
            "date": event.planned_start.astimezone(zone).date().isoformat(),
            "planned_start": _iso(event.planned_start),
            "expected_leave": _iso(event.expected_leave),
            "expected_return": _iso(event.expected_return),
            "planned_by": event.planned_by,
            "state": "planned",
            "risk_assessed": False,
            "authorised_by": None,
            "device": None,
            "last_heartbeat": None,
            "overdue": False,
            "overdue_step": None,
            "timers": [],
            "tasks": [],
        }
        fx.docs[("visit", visit)] = doc
    else:
        doc = board(read, fx, visit)
    if doc is None:
        return
    doc["updated_at"] = at
    handler = _VISIT_EVENTS.get(name)
    if handler is not None:
        handler(event, read, fx, doc)
    refresh_policy(read, doc)  # projections/visit_readiness.py
    fx.subjects.append(f"visit:{visit}")
    fx.subjects.extend(f"staff:{s}" for s in doc["staff"])


def _risk_assessed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["risk_assessed"] = True
    risk_reassessed(doc)
    doc["highest_risk"] = max(
        (h["risk"] for h in event.hazards), key=["low", "medium", "high"].index
    )


def _authorised(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="authorised", authorised_by=event.by)
    doc["headteacher_needed"] = event.headteacher_needed


def _departed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="departed", departed_at=event.timestamp.isoformat(), device=event.device)
    doc["offline_after"] = int(event.policy.get("offline_after", DEFAULT_OFFLINE_AFTER))
    doc["low_battery_below"] = int(event.policy.get("low_battery_below", LOW_BATTERY_BELOW))
    set_timer(fx, doc, "leave", "visit_leave_overdue", event.leave_deadline)
    set_timer(fx, doc, "return", "visit_overdue", event.return_deadline)
    doc["due_back_by"] = _iso(event.return_deadline)
    if event.device:
        link_device(read, fx, event.device, doc["id"])
        seen = event.device_last_seen or event.timestamp
        doc["last_heartbeat"] = _iso(event.device_last_seen)
        doc["battery"] = event.device_battery
        watch_device(fx, doc, seen)


def _arrived(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="arrived", arrived_at=event.timestamp.isoformat())


def _left(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="left", left_at=event.timestamp.isoformat())
    doc["no_answer"] = _name(event).endswith("NoAnswer")
    settle(read, fx, doc, "leave", "done")


def _returned(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="returned", returned_at=event.timestamp.isoformat())
    settle(read, fx, doc, "", "done")
    if doc.get("device"):
        link_device(read, fx, doc["device"], None)


def _extended(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(
        expected_leave=_iso(event.expected_leave),
        expected_return=_iso(event.expected_return),
        extended_because=event.reason,
    )
    if doc["state"] in ("departed", "arrived") and event.leave_deadline is not None:
        set_timer(fx, doc, "leave", "visit_leave_overdue", event.leave_deadline)
    if event.return_deadline is not None and not doc["overdue"]:
        set_timer(fx, doc, "return", "visit_overdue", event.return_deadline)
        doc["due_back_by"] = _iso(event.return_deadline)


def _cancelled(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="cancelled", cancelled_because=event.reason)


def _checked_in(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["last_checkin"] = {"at": event.timestamp.isoformat(), "by": event.by, "via": event.via}
    settle(read, fx, doc, f"checkin-{_checkin_message(event.via)}", "done")


def _checkin_message(via: str) -> str:
    return via.removeprefix("device checkin ") if via.startswith("device checkin ") else "none"


def _reported(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(
        state="reported", outcome=event.outcome, safeguarding_concern=event.safeguarding_concern
    )
    if event.safeguarding_concern:
        _task(
            fx,
            doc,
            task := concern_task(UUID(doc["id"])),
            task_for_role(task),
            f"Safeguarding concern reported after the home visit about pupil {doc['pupil_ref']}: "
            "discuss with the visitor and decide next steps.",
            event.timestamp.isoformat(),
        )


def _closed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["state"] = "closed"


def _leave_overdue(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["asked_to_confirm_at"] = event.timestamp.isoformat()
    settle(read, fx, doc, "leave", "done")


def _overdue(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(overdue=True, overdue_since=event.timestamp.isoformat(), overdue_step=None)
    doc.pop("call_home", None)  # a new episode: reception has not rung the home for it yet
    doc["overdue_episode"] = event.episode
    doc["ladder_steps"] = event.steps
    settle(read, fx, doc, "return", "done")
    next_ladder_step(fx, doc, event.timestamp, set())


def _step_taken(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    taken = {*doc.get("steps_taken", []), event.step}
    doc["steps_taken"] = sorted(taken)
    doc["overdue_step"] = {"step": event.step + 1, "action": event.action}
    decision = getattr(event, "decision", None)
    if decision is not None:
        doc["overdue_step"]["decision"] = decision
    settle(read, fx, doc, "ladder", "done")
    next_ladder_step(fx, doc, datetime.fromisoformat(doc["overdue_since"]), taken)
    task = task_opened(UUID(doc["id"]), event.episode, event.action)
    if task is not None:
        _task(
            fx,
            doc,
            task,
            task_for_role(task),
            f"{', '.join(doc['staff_names'])} is overdue from a home visit and has not answered: "
            f"ring the home of pupil {doc['pupil_ref']}.",
            event.timestamp.isoformat(),
        )


def _ladder_ended(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(overdue=False, steps_taken=[], ladder_steps=[])
    doc["ladder_ended"] = {
        "at": event.timestamp.isoformat(),
        "by": event.by,
        "how": event.how,
        "steps_taken": event.steps_taken,
    }
    settle(read, fx, doc, "ladder", "cancelled")
    _close_tasks(
        read, fx, doc, f"{CALL_HOME_TASK}:", "no_longer_needed", event.timestamp.isoformat()
    )
    settle(read, fx, doc, f"checkin-{_checkin_message(event.how)}", "done")
    set_timer(fx, doc, "return", "visit_overdue", event.next_deadline)
    doc["due_back_by"] = _iso(event.next_deadline)


def _task_completed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    outcome = getattr(event, "outcome", None)
    task = fx.docs.get(("task", event.task)) or read("task", event.task)
    if task is not None:
        fx.docs[("task", event.task)] = {
            **task,
            "state": "done",
            "closed_at": event.timestamp.isoformat(),
            "done_by": event.by,
            "note": event.note,
            "outcome": outcome,
        }
    if event.task.startswith(f"{CALL_HOME_TASK}:"):
        doc["call_home"] = {"outcome": outcome, "by": event.by, "at": event.timestamp.isoformat()}


def _low_battery(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["low_battery_noticed"] = {
        "at": event.timestamp.isoformat(),
        "battery": event.battery,
        "below": event.below,
    }
    settle(read, fx, doc, "battery", "done")


def _device_silence(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["device_silent_since"] = event.last_seen.isoformat()
    settle(read, fx, doc, "device", "done")


_VISIT_EVENTS: dict[str, Callable[[Any, Reader, Effects, Doc], None]] = {
    "RiskAssessed": _risk_assessed,
    "Authorised": _authorised,
    "Departed": _departed,
    "Arrived": _arrived,
    "LeftProperty": _left,
    "NoAnswer": _left,
    "Returned": _returned,
    "Extended": _extended,
    "Cancelled": _cancelled,
    "CheckedIn": _checked_in,
    "Reported": _reported,
    "Closed": _closed,
    "LeaveOverdueNoticed": _leave_overdue,
    "OverdueNoticed": _overdue,
    "LadderStepTaken": _step_taken,
    "LadderEnded": _ladder_ended,
    "DeviceSilenceNoticed": _device_silence,
    "LowBatteryNoticed": _low_battery,
    "TaskCompleted": _task_completed,
    **BEFORE_HANDLERS,
    **DURING_EVENTS,  # at the property, follow-ups, incidents: projections/visit_during.py
}


# -- what other aggregates say about a visit ------------------------------------------


def _alert(event: Any, read: Reader, fx: Effects) -> None:
    alert = str(event.originator_id)
    if _name(event) == "Alert.Raised":
        visit = (event.cause or {}).get("visit") or visit_out_with(read, fx, event.device)
        if not visit:
            return
        alert_joins_visit(event, read, fx, visit)
    else:
        link = read("alert-visit", alert)
        if link is None:
            return
        visit = link["visit"]
        alert_changed(event, read, fx, visit)
    fx.subjects.append(f"visit:{visit}")


def _notification(event: Any, read: Reader, fx: Effects) -> None:
    if _name(event) == "Notification.Requested":
        about = str(event.alert_id)
    else:
        notification = read("notification", str(event.originator_id))
        if notification is None:
            return
        about = str(notification["alert_id"])
    if read("visit", about) is not None:
        fx.subjects.append(f"visit:{about}")
        return
    link = read("alert-visit", about)
    if link is not None:
        fx.subjects.append(f"visit:{link['visit']}")


VISIT_HANDLERS: dict[str, Handler] = {
    **{f"Visit.{name}": _visit for name in ("Planned", *_VISIT_EVENTS)},
    "DeviceMessage.Received": device_message,
    "InboundSms.Received": app_text_read,
    "Alert.Raised": _alert,
    "Alert.Notified": _alert,
    "Alert.Acknowledged": _alert,
    "Alert.Resolved": _alert,
    "Notification.Requested": _notification,
    "Notification.Sent": _notification,
    "Notification.AttemptFailed": _notification,
}

VISIT_FILTER_COLUMNS: dict[str, tuple[str | None, str | None]] = {
    "visit": ("school", "state"),
    "task": ("school", "state"),
    "followup": ("school", "state"),
}
