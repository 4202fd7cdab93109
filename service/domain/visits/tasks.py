"""The tasks a visit gives people: reception's call to the pupil's home (the overdue
ladder's step, its id from service/domain/visits/overdue_ladder.py) and the DSL's
follow-up of a safeguarding concern. Ids, states, and marking one done (`Tasks`, a part
of the `Visit` aggregate: service/domain/visits/parts.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError, InvalidTransition, NotFound
from service.domain.visits.overdue_ladder import CALL_HOME_TASK
from service.domain.visits.parts import VisitPart
from service.domain.visits.rules import call_home_outcome

CONCERN_TASK = "visit-concern"


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    NO_LONGER_NEEDED = "no_longer_needed"


def concern_task(visit: UUID) -> str:
    """The DSL follows up a safeguarding concern from the visit's report."""
    return f"{CONCERN_TASK}:{visit}"


def task_visit(task: str) -> UUID | None:
    """The visit a task id belongs to; None when it is not a visit's task id."""
    kind, _, rest = task.partition(":")
    if kind not in (CALL_HOME_TASK, CONCERN_TASK):
        return None
    try:
        return UUID(rest.split(":")[0])
    except ValueError:
        return None


def task_for_role(task: str) -> str:
    """Who a task is for: a concern is the DSL's, ringing home is reception's."""
    return "dsl" if task.startswith(f"{CONCERN_TASK}:") else "reception"


def completion_outcome(
    task: str, found: dict[str, Any] | None, *, by: str, outcome: str | None
) -> tuple[bool, str | None]:
    """Whether marking `task` done by `by` records anything, and the outcome to record.

    An outcome (`CallHomeOutcome`) is given only for reception's call to the pupil's home:
    it decides whether SLT is told. The same person marking it done again changes nothing;
    anyone else is told who did it."""
    if found is None:
        raise NotFound("task not found")
    if outcome is not None:
        if not task.startswith(f"{CALL_HOME_TASK}:"):
            raise DomainError("an outcome is given only for reception's call to the pupil's home")
        outcome = call_home_outcome(outcome).value
    if found["state"] is TaskState.DONE and found.get("by") == by:
        if outcome is not None and outcome != found.get("outcome"):
            raise InvalidTransition(
                f"you already marked this done at {found['at']:%H:%M} UTC with "
                f"{found.get('outcome') or 'no outcome'}; it cannot be changed now"
            )
        return False, outcome
    if found["state"] is TaskState.DONE:
        raise InvalidTransition(
            f"this task was already done by {found['by']} at {found['at']:%H:%M} UTC"
        )
    if found["state"] is TaskState.NO_LONGER_NEEDED:
        raise InvalidTransition(
            "this task is no longer needed: the visitor made contact and the overdue ladder ended"
        )
    return True, outcome


class TaskCompleted(Aggregate.Event):
    task: str
    by: str
    note: str
    outcome: str | None = None

    def apply(self, aggregate: Any) -> None:
        aggregate.tasks[self.task] = {
            "state": TaskState.DONE,
            "by": self.by,
            "at": self.timestamp,
            "note": self.note,
            "outcome": getattr(self, "outcome", None),
        }


class Tasks(VisitPart):
    tasks: dict[str, dict[str, Any]]

    def complete_task(
        self, task: str, *, by: str, note: str, timestamp: datetime, outcome: str | None = None
    ) -> bool:
        """Mark a task done, with who, an optional note and, for reception's call to the
        pupil's home, what they found (`CallHomeOutcome`: it decides whether SLT is told).
        The same person marking it done again changes nothing (False); anyone else is told
        who did it."""
        changes, outcome = completion_outcome(task, self.tasks.get(task), by=by, outcome=outcome)
        if changes:
            self._trigger(
                TaskCompleted,
                task=task,
                by=by,
                note=note.strip(),
                timestamp=timestamp,
                outcome=outcome,
            )
        return changes
