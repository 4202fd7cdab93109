"""Incidents on a visit (an injury, an accusation against the visitor, a threat): recorded
against the visit, the headteacher told, and what the policy asks next.

"Once in a place of safety, inform the headteacher and any other appropriate members of
staff (e.g. the DSL) of the incident" and "Complete injury at work protocol on return."
(SEN Trust Southend). An injury also logs that protocol as a follow-up for the visitor, so
it stays on the DSL's board until done. `Incidents` is a part of the `Visit` aggregate.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError
from service.domain.visits.commands import MAX_DETAIL
from service.domain.visits.followups import FollowUps
from service.domain.visits.states import VisitState


class IncidentKind(StrEnum):
    INJURY = "injury"
    ACCUSATION = "accusation"
    THREAT = "threat"


INJURY_PROTOCOL = "Complete injury at work protocol on return."

PROMPTS: dict[IncidentKind, tuple[str, ...]] = {
    IncidentKind.INJURY: (
        INJURY_PROTOCOL,
        "Alert Emergency services if appropriate.",
    ),
    IncidentKind.ACCUSATION: (
        "If an accusation of abuse is made against the visit/visitor advice should be sought "
        "from the Headteacher as soon as possible.",
        "Any allegations made against a member of staff making a home visit will be dealt "
        "with in accordance with our allegations against staff policy",
    ),
    IncidentKind.THREAT: (
        "Leave the property swiftly and terminate the visit immediately in order to reach a "
        "place of safety",
        "Contact emergency services on 999 if they feel themselves or someone else is in "
        "immediate danger",
    ),
}
"""What each policy asks after an incident of this kind, in its words."""

NOT_YET = frozenset({VisitState.PLANNED, VisitState.AUTHORISED, VisitState.CANCELLED})


def parse_incident_kind(value: object) -> IncidentKind:
    try:
        return IncidentKind(str(value))
    except ValueError:
        raise DomainError(f"kind must be one of: {', '.join(IncidentKind)}") from None


def incidents_of(aggregate: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] | None = aggregate.__dict__.get("incidents")
    if found is None:
        found = aggregate.__dict__["incidents"] = []
    return found


def headteacher_message(
    *, kind: IncidentKind, school_name: str, visitor: str, code: str, at: datetime, timezone: str
) -> str:
    """The text to the headteacher: what kind and who, never the pupil or the details (those
    are on the console, for the people who may read them)."""
    local = at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return (
        f"LONEWATCH {school_name}: incident on a home visit ({kind.value}) - {visitor}, "
        f"recorded {local}. Visit {code}: see the visit's record on the console."
    )


class IncidentRecorded(Aggregate.Event):
    """`notes`: what happened (withheld as a report's notes are)."""

    number: int
    kind: str
    notes: str
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        incidents_of(aggregate).append(
            {
                "number": self.number,
                "kind": self.kind,
                "notes": self.notes,
                "by": self.by,
                "at": self.timestamp,
                "prompts": list(PROMPTS[IncidentKind(self.kind)]),
            }
        )


class Incidents(FollowUps):
    state: VisitState
    staff: list[str]

    def record_incident(
        self, *, kind: IncidentKind, what: str, by: str, via: str, timestamp: datetime
    ) -> int:
        """Record it (its number on this visit); an injury logs the injury-at-work protocol
        as a follow-up for the lead visitor, due the same day."""
        if self.state in NOT_YET:
            raise DomainError("an incident is recorded on a visit that has started")
        text = " ".join(what.split())[:MAX_DETAIL]
        if not text:
            raise DomainError("say what happened (the details are for the headteacher and DSL)")
        number = len(incidents_of(self)) + 1
        self._trigger(
            IncidentRecorded,
            number=number,
            kind=kind.value,
            notes=text,
            by=by,
            via=via,
            timestamp=timestamp,
        )
        if kind is IncidentKind.INJURY:
            self.log_followup(
                action=f"{INJURY_PROTOCOL} (incident {number})",
                assignee=self.staff[0],
                due=timestamp.date(),
                by=by,
                timestamp=timestamp,
            )
        return number
