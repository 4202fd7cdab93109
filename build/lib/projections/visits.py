"""The visit board, the console's tasks and the visit timers, as pure projection handlers.

`visit` documents are the board: who is out, where, due back when, in what state,
and when their device was last heard from. Deadlines become `timer` documents
(service/workers/scheduler.py fires them; service/application/visit_deadlines.py records what passed):

- `visit-leave:<id>`   expected leave + grace     -> ask the visitor to reply OK
- `visit-return:<id>`  expected return + grace    -> overdue: alert and ladder
- `visit-ladder:<id>`  the next overdue step      -> take it
- `visit-device:<id>`  last heard + offline_after -> device_offline alert (lone visits)
- `visit-battery:<id>` a reading below low_battery_below, due at once -> low_battery alert
  (lone visits, once per visit)
- `visit-checkin-<message>:<id>` a device `checkin` during a visit -> counts as OK

A device's `checkin` is handled here, from the recorded `DeviceMessage.Received`
event, not by a call from the gateway: the projection turns it into a timer due at
once, so it survives restarts and replays like every other deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from projections.core import Doc, Effects, Reader
from service.domain.devices.health import battery_low
from service.domain.people.directory import timezone_of
from service.domain.visits.rules import LOW_BATTERY_BELOW
from service.workers.scheduler import timer_doc

Handler = Callable[[Any, Reader, Effects], None]

CHECKIN = "checkin"
TIMELINE_DEVICE_KINDS = frozenset({"checkin", "sos", "fall"})


def _name(event: object) -> str:
    return type(event).__qualname__


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _board(read: Reader, fx: Effects, visit: str) -> Doc | None:
    key = ("visit", visit)
    if key in fx.docs:
        return fx.docs[key]
    found = read("visit", visit)
    if found is None:
        return None
    doc = dict(found)
    fx.docs[key] = doc
    return doc


def _set_timer(
    fx: Effects, doc: Doc, suffix: str, action: str, due: datetime, **details: Any
) -> None:
    timer_id = f"visit-{suffix}:{doc['id']}"
    fx.docs[("timer", timer_id)] = timer_doc(
        timer_id, action=action, due_at=due, school=doc["school"], visit=doc["id"], **details
    )
    doc["timers"] = sorted({*doc.get("timers", []), timer_id})


def _settle(read: Reader, fx: Effects, doc: Doc, suffix: str, state: str) -> None:
    """Mark the visit's timers (those whose id starts `visit-<suffix>`) done or cancelled."""
    prefix = f"visit-{suffix}"
    for timer_id in doc.get("timers", []):
        if not timer_id.startswith(prefix):
            continue
        timer = fx.docs.get(("timer", timer_id)) or read("timer", timer_id)
        if timer is not None and timer["state"] == "pending":
            fx.docs[("timer", timer_id)] = {**timer, "state": state}


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
        doc = _board(read, fx, visit)
    if doc is None:
        return
    doc["updated_at"] = at
    handler = _VISIT_EVENTS.get(name)
    if handler is not None:
        handler(event, read, fx, doc)
    fx.subjects.append(f"visit:{visit}")
    fx.subjects.extend(f"staff:{s}" for s in doc["staff"])


def _risk_assessed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["risk_assessed"] = True
    doc["highest_risk"] = max(
        (h["risk"] for h in event.hazards), key=["low", "medium", "high"].index
    )


def _authorised(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="authorised", authorised_by=event.by)
    doc["headteacher_needed"] = event.headteacher_needed


def _departed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="departed", departed_at=event.timestamp.isoformat(), device=event.device)
    doc["offline_after"] = int(event.policy.get("offline_after", 180))
    doc["low_battery_below"] = int(event.policy.get("low_battery_below", LOW_BATTERY_BELOW))
    _set_timer(fx, doc, "leave", "visit_leave_overdue", event.leave_deadline)
    _set_timer(fx, doc, "return", "visit_overdue", event.return_deadline)
    doc["due_back_by"] = _iso(event.return_deadline)
    if event.device:
        _link_device(read, fx, event.device, doc["id"])
        seen = event.device_last_seen or event.timestamp
        doc["last_heartbeat"] = _iso(event.device_last_seen)
        doc["battery"] = event.device_battery
        _watch_device(fx, doc, seen)


def _link_device(read: Reader, fx: Effects, device: str, visit: str | None) -> None:
    """The device doc names the visit it is out on: every device message reads that doc
    anyway, so finding the visit costs no extra read per heartbeat."""
    found = fx.docs.get(("device", device)) or read("device", device)
    fx.docs[("device", device)] = {**(found or {"id": device, "counts": {}}), "visit": visit}


def _watch_device(fx: Effects, doc: Doc, seen: datetime) -> None:
    due = seen + timedelta(seconds=int(doc.get("offline_after", 180)))
    _set_timer(fx, doc, "device", "visit_device_silent", due, last_seen=seen.isoformat())


def _arrived(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="arrived", arrived_at=event.timestamp.isoformat())


def _left(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="left", left_at=event.timestamp.isoformat())
    doc["no_answer"] = _name(event).endswith("NoAnswer")
    _settle(read, fx, doc, "leave", "done")


def _returned(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="returned", returned_at=event.timestamp.isoformat())
    _settle(read, fx, doc, "", "done")
    if doc.get("device"):
        _link_device(read, fx, doc["device"], None)


def _extended(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(
        expected_leave=_iso(event.expected_leave),
        expected_return=_iso(event.expected_return),
        extended_because=event.reason,
    )
    if doc["state"] in ("departed", "arrived") and event.leave_deadline is not None:
        _set_timer(fx, doc, "leave", "visit_leave_overdue", event.leave_deadline)
    if event.return_deadline is not None and not doc["overdue"]:
        _set_timer(fx, doc, "return", "visit_overdue", event.return_deadline)
        doc["due_back_by"] = _iso(event.return_deadline)


def _cancelled(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(state="cancelled", cancelled_because=event.reason)


def _checked_in(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["last_checkin"] = {"at": event.timestamp.isoformat(), "by": event.by, "via": event.via}
    _settle(read, fx, doc, f"checkin-{_checkin_message(event.via)}", "done")


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
            f"visit-concern:{doc['id']}",
            "dsl",
            f"Safeguarding concern reported after the home visit about pupil {doc['pupil_ref']}: "
            "discuss with the visitor and decide next steps.",
            event.timestamp.isoformat(),
        )


def _closed(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["state"] = "closed"


def _leave_overdue(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["asked_to_confirm_at"] = event.timestamp.isoformat()
    _settle(read, fx, doc, "leave", "done")


def _overdue(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc.update(overdue=True, overdue_since=event.timestamp.isoformat(), overdue_step=None)
    doc.pop("call_home", None)  # a new episode: reception has not rung the home for it yet
    doc["overdue_episode"] = event.episode
    doc["ladder_steps"] = event.steps
    _settle(read, fx, doc, "return", "done")
    _next_step(fx, doc, event.timestamp, set())


def _next_step(fx: Effects, doc: Doc, started: datetime, taken: set[int]) -> None:
    pending = [
        started + timedelta(seconds=int(step["after"]))
        for i, step in enumerate(doc.get("ladder_steps", []))
        if i not in taken
    ]
    if pending:
        _set_timer(fx, doc, "ladder", "visit_ladder", min(pending))


def _step_taken(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    taken = {*doc.get("steps_taken", []), event.step}
    doc["steps_taken"] = sorted(taken)
    doc["overdue_step"] = {"step": event.step + 1, "action": event.action}
    decision = getattr(event, "decision", None)
    if decision is not None:
        doc["overdue_step"]["decision"] = decision
    _settle(read, fx, doc, "ladder", "done")
    _next_step(fx, doc, datetime.fromisoformat(doc["overdue_since"]), taken)
    if event.action == "reception_calls_home":
        _task(
            fx,
            doc,
            f"visit-call-home:{doc['id']}:{event.episode}",
            "reception",
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
    _settle(read, fx, doc, "ladder", "cancelled")
    _close_tasks(read, fx, doc, "visit-call-home:", "no_longer_needed", event.timestamp.isoformat())
    _settle(read, fx, doc, f"checkin-{_checkin_message(event.how)}", "done")
    _set_timer(fx, doc, "return", "visit_overdue", event.next_deadline)
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
    if event.task.startswith("visit-call-home:"):
        doc["call_home"] = {"outcome": outcome, "by": event.by, "at": event.timestamp.isoformat()}


def _low_battery(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["low_battery_noticed"] = {
        "at": event.timestamp.isoformat(),
        "battery": event.battery,
        "below": event.below,
    }
    _settle(read, fx, doc, "battery", "done")


def _device_silence(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["device_silent_since"] = event.last_seen.isoformat()
    _settle(read, fx, doc, "device", "done")


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
}


# -- what other aggregates say about a visit ------------------------------------------


def _device_message(event: Any, read: Reader, fx: Effects) -> None:
    """Heartbeats keep a lone visit's device watch going; a checkin counts as the visitor's OK."""
    device = fx.docs.get(("device", event.device)) or read("device", event.device) or {}
    if not device.get("visit"):
        return
    doc = _board(read, fx, device["visit"])
    if doc is None or doc["state"] not in ("departed", "arrived", "left"):
        return
    doc["last_heartbeat"] = event.timestamp.isoformat()
    battery = (event.fields or {}).get("battery")
    if battery is not None:
        doc["battery"] = battery
        below = int(doc.get("low_battery_below", LOW_BATTERY_BELOW))
        if battery_low(battery, below) and not doc.get("low_battery_noticed"):
            # Due at once, like a checkin: the visit decides (once per visit) and records it.
            _set_timer(
                fx,
                doc,
                "battery",
                "visit_low_battery",
                event.timestamp,
                battery=battery,
                message=str(event.originator_id),
            )
    doc.pop("device_silent_since", None)
    _watch_device(fx, doc, event.timestamp)
    if event.kind == CHECKIN:
        message = str(event.originator_id)
        _set_timer(
            fx,
            doc,
            f"checkin-{message}",
            "visit_device_checkin",
            event.timestamp,
            device=event.device,
            message=message,
        )
    if event.kind in TIMELINE_DEVICE_KINDS:
        fx.subjects.append(f"visit:{doc['id']}")


def _alert(event: Any, read: Reader, fx: Effects) -> None:
    alert = str(event.originator_id)
    if _name(event) == "Alert.Raised":
        visit = (event.cause or {}).get("visit")
        if not visit:
            return
        fx.docs[("alert-visit", alert)] = {"id": alert, "visit": visit}
        doc = _board(read, fx, visit)
        if doc is not None:
            doc.setdefault("alerts", [])
            doc["alerts"] = [*doc["alerts"], {"id": alert, "kind": event.kind}]
    else:
        link = read("alert-visit", alert)
        if link is None:
            return
        visit = link["visit"]
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
    "DeviceMessage.Received": _device_message,
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
}


# -- the timeline's words ---------------------------------------------------------------

TASK_WORDS = {
    "visit-call-home": "reception's call to the pupil's home",
    "visit-concern": "the DSL's follow-up of the safeguarding concern",
}


OUTCOME_WORDS = {
    "contact_made_no_concern": "reached the home, no concern",
    "no_contact": "no contact with the home",
    "concern": "cause for concern",
}


def _decision_words(event: Any) -> str:
    """Why the `inform_slt` step did or did not tell SLT, and whose report that rests on."""
    decision = getattr(event, "decision", None)
    if not decision:
        return ""
    told = "SLT informed" if decision["inform"] else "SLT not informed"
    source = ""
    if decision.get("reported_by"):
        at = datetime.fromisoformat(decision["reported_at"])
        source = f" (reported by {decision['reported_by']} at {at:%H:%M} UTC)"
    return f" - {told}: {decision['because']}{source}"


def describe(event: Any) -> tuple[str, str] | None:
    """(source, summary) of a visit event for the timeline; None for other events."""
    name = _name(event)
    if not name.startswith("Visit."):
        return None
    what = name.removeprefix("Visit.")
    by = str(getattr(event, "by", "") or "system")
    via = f" ({event.via})" if getattr(event, "via", None) else ""
    words: dict[str, Callable[[], str]] = {
        "Planned": lambda: (
            f"{'lone' if len(event.staff) == 1 else 'pair'} visit planned by {event.planned_by}: "
            f"{', '.join(event.staff)} to pupil {event.pupil_ref}'s home ({event.purpose}), "
            f"leaving {event.expected_leave:%H:%M}, back {event.expected_return:%H:%M} UTC"
        ),
        "RiskAssessed": lambda: f"risk assessed by {by} ({len(event.hazards)} hazards)",
        "Authorised": lambda: (
            f"authorised by {by}"
            + (
                f" (headteacher needed: {event.headteacher_needed})"
                if event.headteacher_needed
                else ""
            )
        ),
        "Departed": lambda: (
            f"signed out by {by}" + (f" with device {event.device}" if event.device else "")
        ),
        "Arrived": lambda: f"arrived at the property{via}",
        "LeftProperty": lambda: f"left the property{via}",
        "NoAnswer": lambda: f"no answer at the property: 'sorry we missed you' left{via}",
        "Returned": lambda: f"signed back in{via}",
        "Extended": lambda: (
            f"extended by {by}: back by {event.expected_return:%H:%M} UTC ({event.reason})"
        ),
        "Cancelled": lambda: f"cancelled by {by}: {event.reason}",
        "CheckedIn": lambda: f"visitor checked in OK{via}",
        "Reported": lambda: (
            f"reported by {by}: {event.outcome}"
            + (", safeguarding concern for the DSL" if event.safeguarding_concern else "")
        ),
        "Closed": lambda: f"closed by {by}",
        "LeaveOverdueNoticed": lambda: "not left the property on time: visitor asked to reply OK",
        "OverdueNoticed": lambda: (
            f"overdue: not back by {event.deadline:%H:%M} UTC "
            "(expected return plus grace); the ladder starts"
        ),
        "LadderStepTaken": lambda: (
            f"overdue step {event.step + 1}: {event.action}" + _decision_words(event)
        ),
        "LadderEnded": lambda: (
            f"overdue ladder ended by {by} after {event.steps_taken} step(s): {event.how}"
        ),
        "DeviceSilenceNoticed": lambda: (
            f"device {event.device} silent since {event.last_seen:%H:%M:%S} UTC"
        ),
        "LowBatteryNoticed": lambda: (
            f"device {event.device} battery {event.battery}% "
            f"(below the school's {event.below}%): low-battery alert"
        ),
        "TaskCompleted": lambda: (
            f"{TASK_WORDS.get(event.task.partition(':')[0], 'task')} done by {by}"
            + (
                f" ({OUTCOME_WORDS.get(event.outcome, event.outcome)})"
                if getattr(event, "outcome", None)
                else ""
            )
            + (f": {event.note}" if event.note else "")
        ),
    }
    noticed = (
        "LeaveOverdueNoticed",
        "OverdueNoticed",
        "LadderStepTaken",
        "DeviceSilenceNoticed",
        "LowBatteryNoticed",
    )
    source = "scheduler" if what in noticed else by
    return source, words[what]() if what in words else what
