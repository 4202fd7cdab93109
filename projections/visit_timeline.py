"""A visit's events in the timeline's words (service/records/timeline.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from projections.visit_during import during_words
from projections.visit_readiness import before_words
from service.domain.visits.overdue_ladder import CALL_HOME_TASK, Action
from service.domain.visits.rules import CallHomeOutcome
from service.domain.visits.tasks import CONCERN_TASK


def _name(event: object) -> str:
    return type(event).__qualname__


TASK_WORDS = {
    CALL_HOME_TASK: "reception's call to the pupil's home",
    CONCERN_TASK: "the DSL's follow-up of the safeguarding concern",
}


OUTCOME_WORDS = {
    CallHomeOutcome.CONTACT_MADE_NO_CONCERN.value: "reached the home, no concern",
    CallHomeOutcome.NO_CONTACT.value: "no contact with the home",
    CallHomeOutcome.CONCERN.value: "cause for concern",
}


LADDER_STEP_WORDS = {
    Action.CALL_VISITOR.value: "the visitor is texted and called",
    Action.RECEPTION_CALLS_HOME.value: "reception rings the pupil's home",
    Action.INFORM_SLT.value: "senior leaders are told if need be",
}
"""An overdue ladder's steps as a reader says them (the record's timeline and its summary)."""


def step_words(action: str) -> str:
    """'contact_staff' -> 'the visitor is texted and called'; an unknown step as recorded."""
    return LADDER_STEP_WORDS.get(action, action.replace("_", " "))


def purpose_words(purpose: str) -> str:
    """A visit's purpose as the policies say it: 'safe_and_well' -> 'safe and well'."""
    return str(purpose or "").replace("_", " ")


def _at(value: datetime, zone: tzinfo, seconds: bool = False) -> str:
    """'14:10 GMT': a time as the school's clock shows it, with the zone."""
    local = value.astimezone(zone)
    return f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"


def _zone(value: datetime, zone: tzinfo) -> str:
    return str(value.astimezone(zone).tzname())


_TEXTED = re.compile(r"(?:text|app message) \w+ \((sms|app):[^()]*\)")
_REF = re.compile(r" ?\((?:sms|app|device)[:\s][^()]*\)")
_HOW = {"api": " through the API", "console": " in the console", "sms": " by text"}


def via_words(via: str | None, by: str = "") -> str:
    """How a visit event came, in a DSL's words (' by text', ' from device sos-0001'): the
    message's own reference (an SMS sid, a message id) stays in the row's data, not here."""
    if not via:
        return ""
    if via in _HOW:
        return _HOW[via]
    texted = _TEXTED.fullmatch(via)
    if texted or via.startswith("sms:"):
        return " by text" if via.startswith(("text", "sms:")) else " by app message"
    if via.startswith("device checkin"):
        kind, _, device = by.partition(":")
        return f" from device {device}" if kind == "device" and device else " from the device"
    if via.startswith("owntracks"):
        return f" by the phone's location ({via.removeprefix('owntracks: ')})"
    return f" ({_REF.sub('', via)})"


def how_words(how: str, by: str = "") -> str:
    """How a ladder was ended ('text OK (sms:SM5)'), without the message's own reference."""
    if how.startswith("device checkin"):
        return "a check-in from the device" if by.startswith("device:") else "a device check-in"
    return _REF.sub("", how)


def _decision_words(event: Any, zone: tzinfo = UTC) -> str:
    """Why the `inform_slt` step did or did not tell SLT, and whose report that rests on."""
    decision = getattr(event, "decision", None)
    if not decision:
        return ""
    told = "SLT informed" if decision["inform"] else "SLT not informed"
    source = ""
    if decision.get("reported_by"):
        at = datetime.fromisoformat(decision["reported_at"])
        source = f" (reported by {decision['reported_by']} at {_at(at, zone)} {_zone(at, zone)})"
    return f" - {told}: {decision['because']}{source}"


def describe(event: Any, zone: tzinfo = UTC) -> tuple[str, str] | None:
    """(source, summary) of a visit event for the timeline, times told in `zone` (the
    school's) with its name; None for other events."""
    name = _name(event)
    if not name.startswith("Visit."):
        return None
    what = name.removeprefix("Visit.")
    actor = str(getattr(event, "by", "") or "system")
    by = f"device {actor.removeprefix('device:')}" if actor.startswith("device:") else actor
    via = via_words(getattr(event, "via", None), actor)
    words: dict[str, Callable[[], str]] = {
        "Planned": lambda: (
            f"{'lone' if len(event.staff) == 1 else 'pair'} visit planned by {event.planned_by}: "
            f"{', '.join(event.staff)} to pupil {event.pupil_ref}'s home "
            f"({purpose_words(event.purpose)}), "
            f"leaving {_at(event.expected_leave, zone)}, back {_at(event.expected_return, zone)} "
            f"{_zone(event.expected_return, zone)}"
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
            f"extended by {by}: back by {_at(event.expected_return, zone)} "
            f"{_zone(event.expected_return, zone)} ({event.reason})"
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
            f"overdue: not back by {_at(event.deadline, zone)} {_zone(event.deadline, zone)} "
            "(expected return plus grace); the ladder starts"
        ),
        "LadderStepTaken": lambda: (
            f"overdue step {event.step + 1}: {step_words(event.action)}"
            + _decision_words(event, zone)
        ),
        "LadderEnded": lambda: (
            f"overdue ladder ended by {by} after {event.steps_taken} step(s): "
            f"{how_words(event.how, actor)}"
        ),
        "DeviceSilenceNoticed": lambda: (
            f"device {event.device} silent since {_at(event.last_seen, zone, seconds=True)} "
            f"{_zone(event.last_seen, zone)}"
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
    source = "scheduler" if what in noticed else actor
    during = during_words(event, what, by, via)
    if during is not None:
        return source, during
    return source, words[what]() if what in words else (before_words(what, event) or what)
