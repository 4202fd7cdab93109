"""What happens at the property, recorded on the visit with who, when (the event's time) and why:
a concern told to the DSL at once, a decision under a policy rule, the visit ended early with
its reason, and where the visitor goes next after leaving.

"Any safeguarding concerns observed during the visit must be reported immediately to the
DSL." (King's Academy Gomer); "Telephone school office to say you have left the property and
where you are going next." (Roselyn House). The rules themselves: decisions.py.

`During` is a part of the `Visit` aggregate (service/domain/visits/parts.py): `Visit` lists
these event classes in its body, so they are stored as `Visit.<Event>`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError
from service.domain.visits.commands import MAX_DETAIL
from service.domain.visits.decisions import (
    REASON_OF_RULE,
    RULES,
    DuringPolicy,
    EndReason,
    Rule,
    decision_problem,
    end_reason,
    ends_visit,
)
from service.domain.visits.parts import VisitPart
from service.domain.visits.states import OUT, VisitState, expect


def during_of(aggregate: Any) -> dict[str, Any]:
    """The visit's record of what happened at the property (visits recorded before these
    events existed have none, so it is made on first use)."""
    found: dict[str, Any] | None = aggregate.__dict__.get("during")
    if found is None:
        found = aggregate.__dict__["during"] = {
            "concerns": [],
            "decisions": [],
            "ended_early": None,
            "next_place": None,
        }
    return found


class ConcernRaised(Aggregate.Event):
    """`notes`: the concern in the visitor's words (withheld from whoever may not read a
    visit's notes, as a report's are)."""

    number: int
    notes: str
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        during_of(aggregate)["concerns"].append(
            {"number": self.number, "notes": self.notes, "by": self.by, "at": self.timestamp}
        )


class DecisionRecorded(Aggregate.Event):
    """`notes`: why, in the visitor's words (withheld as a report's notes are)."""

    rule: str
    choice: str
    notes: str
    controls: list[str]
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        during_of(aggregate)["decisions"].append(
            {
                "rule": self.rule,
                "choice": self.choice,
                "notes": self.notes,
                "controls": list(self.controls),
                "by": self.by,
                "at": self.timestamp,
            }
        )


class EndedEarly(Aggregate.Event):
    """The visit ended before its purpose was met; the visitor has left the property."""

    reason: str
    words: str
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        during_of(aggregate)["ended_early"] = {
            "reason": self.reason,
            "words": self.words,
            "by": self.by,
            "at": self.timestamp,
        }
        aggregate.state = VisitState.LEFT


class NextPlaceGiven(Aggregate.Event):
    place: str
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        during_of(aggregate)["next_place"] = {
            "place": self.place,
            "by": self.by,
            "at": self.timestamp,
        }


def _words(value: str, what: str) -> str:
    cleaned = " ".join(value.split())[:MAX_DETAIL]
    if not cleaned:
        raise DomainError(what)
    return cleaned


class During(VisitPart):
    state: VisitState

    def raise_concern(self, *, words: str, by: str, via: str, timestamp: datetime) -> int:
        """A concern seen at the property, for the DSL now; its number on this visit."""
        expect(self.state, "raise a concern during", *OUT)
        text = _words(words, "say what the concern is: CONCERN <what you saw or were told>")
        number = len(during_of(self)["concerns"]) + 1
        self._trigger(ConcernRaised, number=number, notes=text, by=by, via=via, timestamp=timestamp)
        return number

    def record_decision(
        self,
        *,
        rule: Rule,
        choice: str,
        why: str,
        controls: Collection[str],
        policy: DuringPolicy,
        by: str,
        via: str,
        timestamp: datetime,
    ) -> bool:
        """Record what the visitor did under a policy rule; True when that ended the visit
        (the policy says to leave, and the visitor has)."""
        expect(self.state, "record a decision on", *OUT)
        problem = decision_problem(rule, choice, why, controls=controls, policy=policy)
        if problem:
            raise DomainError(problem)
        self._trigger(
            DecisionRecorded,
            rule=rule.value,
            choice=choice,
            notes=_words(why, "say why"),
            controls=sorted(set(controls)),
            by=by,
            via=via,
            timestamp=timestamp,
        )
        if not ends_visit(rule, choice) or during_of(self)["ended_early"] is not None:
            return False
        self.end_early(
            words=RULES[rule].ended_because,
            reason=REASON_OF_RULE.get(rule, EndReason.OTHER),
            by=by,
            via=via,
            timestamp=timestamp,
        )
        return True

    def end_early(
        self,
        *,
        words: str,
        by: str,
        via: str,
        timestamp: datetime,
        reason: EndReason | None = None,
    ) -> EndReason:
        """End the visit before its purpose is met, with the reason in the visitor's words;
        they have left the property (and still sign back in: BACK)."""
        expect(self.state, "end early", *OUT)
        ended = during_of(self)["ended_early"]
        if ended is not None:
            raise DomainError(
                f"this visit was already ended early at {ended['at']:%H:%M} UTC ({ended['words']})"
            )
        text = _words(words, "say why the visit ended early: ENDED <reason>")
        kind = reason or end_reason(text)
        self._trigger(
            EndedEarly, reason=kind.value, words=text, by=by, via=via, timestamp=timestamp
        )
        return kind

    def give_next_place(self, *, place: str, by: str, via: str, timestamp: datetime) -> None:
        """Where the visitor is going after leaving the property."""
        expect(self.state, "say where you go next on", *OUT)
        text = _words(place, "say where you are going next: LEFT next: <place>")
        self._trigger(NextPlaceGiven, place=text, by=by, via=via, timestamp=timestamp)
