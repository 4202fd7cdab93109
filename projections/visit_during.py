"""What happened at the property on the visit board, the follow-up actions as documents of
their own (the DSL's board lists them until done), and these events in the timeline's words.

Handlers take the visit's board document (projections/visits.py calls them by event name).
The words a visitor wrote (a concern, why, what happened, a follow-up's action) are kept
under `notes`, which the API withholds from whoever may not read a visit's notes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.core import Doc, Effects, Reader
from projections.visit_devices import board
from projections.visit_timers import settle
from service.domain.visits.decisions import RULES, Rule
from service.domain.visits.followups import followup_id


def _concern(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    concerns = list(doc.get("concerns") or [])
    concerns.append({"number": event.number, "at": event.timestamp.isoformat(), "by": event.by})
    doc["concerns"] = concerns


def _decision(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    decisions = list(doc.get("decisions") or [])
    decisions.append(
        {
            "rule": event.rule,
            "choice": event.choice,
            "by": event.by,
            "at": event.timestamp.isoformat(),
            "controls": list(event.controls),
        }
    )
    doc["decisions"] = decisions


def _ended_early(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["ended_early"] = {
        "reason": event.reason,
        "words": event.words,
        "by": event.by,
        "at": event.timestamp.isoformat(),
    }
    if doc["state"] in ("departed", "arrived"):
        doc.update(state="left", left_at=event.timestamp.isoformat())
        settle(read, fx, doc, "leave", "done")


def _next_place(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    doc["next_place"] = {"place": event.place, "at": event.timestamp.isoformat()}


def _incident(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    incidents = list(doc.get("incidents") or [])
    incidents.append(
        {"number": event.number, "kind": event.kind, "at": event.timestamp.isoformat()}
    )
    doc["incidents"] = incidents


def _followup_logged(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    key = followup_id(event.originator_id, event.number)
    fx.docs[("followup", key)] = {
        "id": key,
        "school": doc["school"],
        "visit": doc["id"],
        "ref": doc.get("ref"),
        "staff": doc["staff"],
        "staff_names": doc["staff_names"],
        "pupil_ref": doc.get("pupil_ref"),
        "number": event.number,
        "notes": event.notes,
        "assignee": event.assignee,
        "due": event.due,
        "logged_by": event.by,
        "logged_at": event.timestamp.isoformat(),
        "state": "open",
    }
    doc["followups_open"] = int(doc.get("followups_open") or 0) + 1


def _followup_done(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
    key = followup_id(event.originator_id, event.number)
    found = fx.docs.get(("followup", key)) or read("followup", key)
    if found is not None:
        fx.docs[("followup", key)] = {
            **found,
            "state": "done",
            "done_by": event.by,
            "done_at": event.timestamp.isoformat(),
            "notes": f"{found['notes']} - done: {event.notes}" if event.notes else found["notes"],
        }
    doc["followups_open"] = max(0, int(doc.get("followups_open") or 0) - 1)


DURING_EVENTS: dict[str, Callable[[Any, Reader, Effects, Doc], None]] = {
    "ConcernRaised": _concern,
    "DecisionRecorded": _decision,
    "EndedEarly": _ended_early,
    "NextPlaceGiven": _next_place,
    "IncidentRecorded": _incident,
    "FollowUpLogged": _followup_logged,
    "FollowUpDone": _followup_done,
}


def app_text_read(event: Any, read: Reader, fx: Effects) -> None:
    """A phone app's message was read as a visitor text: its timer is settled."""
    sid, sender = str(event.message_sid), str(event.sender)
    if not (sid.startswith("app:") and sender.startswith("device:")):
        return
    device = fx.docs.get(("device", sender[7:])) or read("device", sender[7:]) or {}
    doc = board(read, fx, device["visit"]) if device.get("visit") else None
    if doc is not None:
        settle(read, fx, doc, f"text-{sid[4:]}", "done")


CHOICE_WORDS = {
    "did_not_enter": "did not enter",
    "left": "left",
    "returned_to_school": "returned to school",
    "entered_with_controls": "entered with the controls confirmed",
    "did_not_go_upstairs": "did not go upstairs",
    "went_upstairs_accompanied": "went upstairs accompanied by a responsible adult",
    "agreed_not_to_smoke": "the adult agreed not to smoke",
    "animals_kept_separate": "animals kept in a separate room",
    "refused_left": "the adult refused: visitor left",
}


def during_words(event: Any, what: str, by: str, via: str) -> str | None:
    """The timeline's words for these events; None for any other event. The visitor's own
    words stay in the event's `notes` (withheld from those who may not read them)."""
    if what == "ConcernRaised":
        return f"concern {event.number} raised by {by}{via}: told to the DSL at once"
    if what == "DecisionRecorded":
        rule = RULES[Rule(event.rule)]
        controls = f"; controls: {', '.join(event.controls)}" if event.controls else ""
        choice = CHOICE_WORDS.get(event.choice, event.choice)
        return f"decision by {by}{via}: {choice}{controls} - the policy: '{rule.words}'"
    if what == "EndedEarly":
        return f"visit ended early by {by}{via}: {event.words}"
    if what == "NextPlaceGiven":
        return f"going next to: {event.place}{via}"
    if what == "IncidentRecorded":
        return f"incident {event.number} ({event.kind}) recorded by {by}{via}: headteacher told"
    if what == "FollowUpLogged":
        return f"follow-up {event.number} logged by {by}: for {event.assignee}, due {event.due}"
    if what == "FollowUpDone":
        return f"follow-up {event.number} done by {by}"
    return None
