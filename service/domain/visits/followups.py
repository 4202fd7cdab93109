"""Follow-up actions of a visit: logged, assigned to a person, due on a date, open on the DSL's
board until someone marks them done.

"Follow-Up: If follow-up actions are required, these should be logged and monitored on
CPOMS." (King's Academy Gomer): Lonewatch keeps them with the visit and gives the DSL an
export to attach there. `FollowUps` is a part of the `Visit` aggregate
(service/domain/visits/parts.py).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError, InvalidTransition, NotFound
from service.domain.people.access import SAFEGUARDING_LEADS, Principal
from service.domain.visits.parts import VisitPart

FOLLOWUP = "followup"
MAX_ACTION = 500


def followup_id(visit: UUID, number: int) -> str:
    """`followup:<visit>:<n>`: the id the board and the API use."""
    return f"{FOLLOWUP}:{visit}:{number}"


def followup_parts(followup: str) -> tuple[UUID, int] | None:
    """(visit, number) of a follow-up id; None when it is not one."""
    kind, _, rest = followup.partition(":")
    visit, _, number = rest.rpartition(":")
    if kind != FOLLOWUP or not number.isdigit():
        return None
    try:
        return UUID(visit), int(number)
    except ValueError:
        return None


def followups_of(aggregate: Any) -> dict[int, dict[str, Any]]:
    """The visit's follow-ups by number (made on first use: older visits have none)."""
    found: dict[int, dict[str, Any]] | None = aggregate.__dict__.get("followups")
    if found is None:
        found = aggregate.__dict__["followups"] = {}
    return found


def followup_problem(action: str, assignee: str, due: date, *, logged_on: date) -> str | None:
    """Why a follow-up cannot be logged: it needs an action, a person and a due date that is
    not before the day it is logged."""
    if not action.strip():
        return "say what is to be done (the action)"
    if len(action) > MAX_ACTION:
        return f"keep the action to {MAX_ACTION} characters; the detail goes on CPOMS"
    if not assignee.strip():
        return "assign it to a person (a staff id or console user)"
    if due < logged_on:
        return f"the due date must not be before today ({logged_on.isoformat()})"
    return None


def is_overdue(followup: dict[str, Any], today: date) -> bool:
    return followup["state"] == "open" and date.fromisoformat(str(followup["due"])) < today


class FollowUpLogged(Aggregate.Event):
    """`notes`: the action to be done (withheld as a report's notes are: it can name what
    was seen)."""

    number: int
    notes: str
    assignee: str
    due: str
    by: str

    def apply(self, aggregate: Any) -> None:
        followups_of(aggregate)[self.number] = {
            "number": self.number,
            "notes": self.notes,
            "assignee": self.assignee,
            "due": self.due,
            "by": self.by,
            "at": self.timestamp,
            "state": "open",
        }


class FollowUpDone(Aggregate.Event):
    """`notes`: what was done (withheld as a report's notes are)."""

    number: int
    by: str
    notes: str

    def apply(self, aggregate: Any) -> None:
        followups_of(aggregate)[self.number].update(
            state="done", done_by=self.by, done_at=self.timestamp, done_notes=self.notes
        )


class FollowUps(VisitPart):
    def log_followup(
        self, *, action: str, assignee: str, due: date, by: str, timestamp: datetime
    ) -> int:
        """Log a follow-up action; its number on this visit."""
        problem = followup_problem(action, assignee, due, logged_on=timestamp.date())
        if problem:
            raise DomainError(problem)
        number = len(followups_of(self)) + 1
        self._trigger(
            FollowUpLogged,
            number=number,
            notes=" ".join(action.split()),
            assignee=assignee.strip(),
            due=due.isoformat(),
            by=by,
            timestamp=timestamp,
        )
        return number

    def complete_followup(self, number: int, *, by: str, note: str, timestamp: datetime) -> bool:
        """Mark it done; False when the same person already had (nothing recorded)."""
        found = followups_of(self).get(number)
        if found is None:
            raise NotFound("follow-up not found")
        if found["state"] == "done":
            if found["done_by"] == by:
                return False
            raise InvalidTransition(
                f"this follow-up was already done by {found['done_by']} at "
                f"{found['done_at']:%H:%M} UTC"
            )
        self._trigger(FollowUpDone, number=number, by=by, notes=note.strip(), timestamp=timestamp)
        return True


def followup_refusal(
    who: Principal, visitors: Collection[str], *, assignee: str | None = None
) -> str | None:
    """Who may log a follow-up (the safeguarding leads; the visit's own visitors) and mark
    one done (the leads; the person it is assigned to). Reception does neither: a follow-up
    can name what was seen."""
    if who.role in SAFEGUARDING_LEADS:
        return None
    if assignee is None and who.username in visitors:
        return None
    if assignee is not None and who.username == assignee:
        return None
    doing = "log a follow-up on this visit" if assignee is None else "mark this follow-up done"
    return (
        f"a {who.role.value} may not {doing}: the DSL, the headteacher or the person it is for may"
    )
