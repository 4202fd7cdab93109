"""What the board shows of a visit before it goes out: the before-visit facts (kept by the
domain's own `record`, as the `Visit` aggregate keeps them) and the school's policy read
against them (`summary`): who may authorise, what is missing, what each visitor confirms.

Recomputed at each of the visit's events with the school's policy and the staff's training
as the directory has them then; authorising and signing out check again, against the
policy as it is at that moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from projections.core import Doc, Effects, Reader
from service.domain.people.directory import timezone_of
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.readiness import instructions, record, summary

BEFORE_EVENTS = (
    "CompanionNamed",
    "CompanionsDecided",
    "ParentsInformed",
    "VisitorConfirmed",
    "PolicyApplied",
)
NOT_YET_OUT = ("planned", "authorised")
OUT_STATES = ("departed", "arrived", "left")


def _facts(name: str) -> Callable[[Any, Reader, Effects, Doc], None]:
    def handle(event: Any, read: Reader, fx: Effects, doc: Doc) -> None:
        doc["before"] = record(doc.get("before") or {}, name, event.__dict__)

    return handle


BEFORE_HANDLERS: dict[str, Callable[[Any, Reader, Effects, Doc], None]] = {
    name: _facts(name) for name in BEFORE_EVENTS
}


def risk_reassessed(doc: Doc) -> None:
    """A new risk assessment is signed again (as the aggregate has it)."""
    doc["before"] = record(doc.get("before") or {}, "RiskAssessed", {})


def refresh_policy(read: Reader, doc: Doc) -> None:
    """The policy's summary for a visit not yet out; once it has gone, only the instructions
    for while it is out (the second member of staff stays in sight of the property)."""
    school = read("school", str(doc["school"])) or {}
    if doc.get("state") not in NOT_YET_OUT:
        doc.pop("policy", None)
        if doc.get("state") in OUT_STATES:
            rules = VisitPolicy.from_school(school.get("policy"))
            doc["instructions"] = instructions(rules, doc.get("before") or {}, doc["staff"])
        return
    trained = [s for s in doc["staff"] if (read("staff", s) or {}).get("safeguarding_trained")]
    doc["policy"] = summary(
        VisitPolicy.from_school(school.get("policy")),
        doc.get("before") or {},
        staff=doc["staff"],
        trained=trained,
        zone=ZoneInfo(timezone_of(school)),
    )


def _check_words(checks: list[dict[str, Any]]) -> str:
    return "; ".join(str(c.get("done") or c.get("needed")) for c in checks)


def before_words(what: str, event: Any) -> str | None:
    """A before-visit event in the timeline's words: who, and why (the time is the entry's)."""
    by = str(getattr(event, "by", "") or "system")
    if what == "CompanionNamed":
        phone = f", {event.phone}" if event.phone else ""
        return f"companion named by {by}: {event.name} ({event.organisation}{phone})"
    if what == "CompanionsDecided":
        chosen = (
            "a single member of staff" if event.decision == "single" else "an additional person"
        )
        return f"{chosen} decided by {by}: {event.reason}"  # the actor names the role
    if what == "ParentsInformed":
        if event.informed:
            return f"parents/carers informed, recorded by {by}" + (
                f": {event.note}" if event.note else ""
            )
        return f"parents/carers not informed, recorded by {by}, because: {event.note}"
    if what == "VisitorConfirmed":
        return f"{event.staff} confirmed: \u201c{event.statement}\u201d"
    if what == "PolicyApplied":
        step = "authorising" if event.step == "authorise" else "signing out"
        return f"school's visit policy met before {step}: {_check_words(event.checks)}"
    return None
