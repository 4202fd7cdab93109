"""The overdue ladder: decide(state, command, now) -> facts; evolve(state, fact) -> state.

"If the designated staff do not return to school at the agreed expected time of
return, the member of staff will be contacted on the mobile phone. If contact is
not possible, Reception staff will attempt to contact the Pupil's home. If contact
has not been made or there is any cause for concern, a member of SLT will be
informed to take necessary actions." (William Lilley home visit policy)

The whole rule, in one place, beside the escalation ladder (service/domain/alerts/ladder.py)
and in its shape (eventsourcing's examples/aggregate6): which steps a school's ladder has
(its `overdue.steps`, or the defaults), when each is due, whether the last one tells SLT,
and the task the reception step gives. `Visit` folds its recorded ladder events into a
`LadderState` and records each fact `decide` returns (`OverdueNoticed`, `LadderStepTaken`,
`LadderEnded`); projections/ import the due times and task ids from here. Plain values,
no clock: `now` is an argument. Who is told what at each step: service/domain/visits/overdue.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from service.domain.devices.health import OFFLINE_AFTER_SECONDS
from service.domain.errors import DomainError
from service.domain.visits.rules import (
    CALL_HOME_WORDS,
    LOW_BATTERY_BELOW,
    CallHomeOutcome,
)


class Action(StrEnum):
    """The ladder's steps, in the policies' words. The values are what directory files and
    stored events name: never rename one."""

    CALL_VISITOR = "contact_staff"
    """Text and ring the visitor's mobile."""
    RECEPTION_CALLS_HOME = "reception_calls_home"
    """Reception rings the pupil's home (a task on the console)."""
    INFORM_SLT = "inform_slt"
    """Senior leaders told, unless reception reached the home and found no concern."""


@dataclass(frozen=True)
class PlannedStep:
    """One step of a school's ladder: `action`, `after` seconds once the visit is overdue."""

    after: int
    action: Action

    def as_data(self) -> dict[str, Any]:
        return {"after": self.after, "do": self.action.value}

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> PlannedStep:
        return PlannedStep(after=int(data["after"]), action=Action(str(data["do"])))


DEFAULT_GRACE = 600
"""Seconds after the expected return (and leave) before the visit counts as late."""
DEFAULT_STEPS = (
    PlannedStep(0, Action.CALL_VISITOR),
    PlannedStep(600, Action.RECEPTION_CALLS_HOME),
    PlannedStep(1200, Action.INFORM_SLT),
)
"""A school whose policy names no `overdue.steps`."""
DEFAULT_OFFLINE_AFTER = OFFLINE_AFTER_SECONDS


def steps_from_data(steps: Iterable[Mapping[str, Any]] | None) -> tuple[PlannedStep, ...]:
    return tuple(PlannedStep.from_data(s) for s in steps or ())


def steps_data(steps: Iterable[PlannedStep]) -> list[dict[str, Any]]:
    return [s.as_data() for s in steps]


@dataclass(frozen=True)
class OverduePolicy:
    """The school's overdue and heartbeat policy, copied into the departure event so the
    deadlines of this visit never change under it."""

    grace: timedelta
    steps: tuple[PlannedStep, ...]
    offline_after: timedelta
    low_battery_below: int

    @classmethod
    def from_school(cls, policy: Mapping[str, Any]) -> OverduePolicy:
        overdue = policy.get("overdue") or {}
        steps = overdue.get("steps")
        return cls(
            grace=timedelta(seconds=int(overdue.get("grace", DEFAULT_GRACE))),
            steps=steps_from_data(steps) if steps else DEFAULT_STEPS,
            offline_after=timedelta(
                seconds=int(
                    (policy.get("heartbeat") or {}).get("offline_after", DEFAULT_OFFLINE_AFTER)
                )
            ),
            low_battery_below=int(policy.get("low_battery_below", LOW_BATTERY_BELOW)),
        )

    def as_event_data(self) -> dict[str, Any]:
        """The copy recorded in `Visit.Departed` (read back by `grace_of` and `steps_of`)."""
        return {
            "grace": int(self.grace.total_seconds()),
            "steps": steps_data(self.steps),
            "offline_after": int(self.offline_after.total_seconds()),
            "low_battery_below": self.low_battery_below,
        }


def grace_of(copy: Mapping[str, Any]) -> timedelta:
    """The grace of a visit's departure copy of the policy."""
    return timedelta(seconds=int(copy.get("grace", DEFAULT_GRACE)))


def steps_of(copy: Mapping[str, Any]) -> tuple[PlannedStep, ...]:
    """The ladder of a visit's departure copy of the policy (none recorded: no steps)."""
    return steps_from_data(copy.get("steps"))


# -- the task the reception step gives --------------------------------------------------

CALL_HOME_TASK = "visit-call-home"


def call_home_task(visit: UUID, episode: int) -> str:
    """Reception rings the pupil's home: one task per overdue episode that reached that step."""
    return f"{CALL_HOME_TASK}:{visit}:{episode}"


def task_opened(visit: UUID, episode: int, action: Action | str) -> str | None:
    """The task a step taken gives someone, if any."""
    return call_home_task(visit, episode) if action == Action.RECEPTION_CALLS_HOME else None


# -- whether SLT are told -----------------------------------------------------------------


@dataclass(frozen=True)
class CallHomeReport:
    """What reception said when they marked ringing the pupil's home done; `outcome` is
    None when they did not say."""

    outcome: CallHomeOutcome | None
    by: str
    at: datetime


@dataclass(frozen=True)
class SltDecision:
    """Whether the `inform_slt` step tells SLT, why, and whose report it rests on."""

    inform: bool
    because: str
    reported_by: str | None = None
    reported_at: datetime | None = None

    def as_event_data(self) -> dict[str, Any]:
        return {
            "inform": self.inform,
            "because": self.because,
            "reported_by": self.reported_by,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
        }

    @staticmethod
    def from_event_data(data: Mapping[str, Any]) -> SltDecision:
        at = data.get("reported_at")
        return SltDecision(
            inform=bool(data["inform"]),
            because=str(data["because"]),
            reported_by=data.get("reported_by"),
            reported_at=datetime.fromisoformat(at) if at else None,
        )


def slt_decision(report: CallHomeReport | None) -> SltDecision:
    """'If contact has not been made or there is any cause for concern, a member of SLT will
    be informed.' (policy 003) Only reception's report that they reached the home and found
    no concern holds SLT back; no report by then (the task not done, or no reception step
    in the school's ladder) counts as no contact, so the ladder never stalls on a silence."""
    if report is None:
        return SltDecision(True, "reception had not reported reaching the pupil's home by then")
    if report.outcome is None:
        because = "reception marked the call done without saying whether contact was made"
    else:
        because = f"reception {CALL_HOME_WORDS[report.outcome]}"
    inform = report.outcome is not CallHomeOutcome.CONTACT_MADE_NO_CONCERN
    return SltDecision(inform, because, report.by, report.at)


# -- due times ----------------------------------------------------------------------------


def step_due(started_at: datetime, step: PlannedStep) -> datetime:
    return started_at + timedelta(seconds=step.after)


def due_steps(
    started_at: datetime, steps: Iterable[PlannedStep], taken: Iterable[int], now: datetime
) -> list[int]:
    """The steps, in the school's order, whose time has come and that were not taken."""
    done = set(taken)
    return [
        i for i, step in enumerate(steps) if i not in done and step_due(started_at, step) <= now
    ]


def next_step_due(
    started_at: datetime, steps: Iterable[PlannedStep], taken: Iterable[int]
) -> datetime | None:
    """When the next step not taken falls due; None when every step was taken."""
    done = set(taken)
    pending = [step_due(started_at, s) for i, s in enumerate(steps) if i not in done]
    return min(pending) if pending else None


# -- state, commands, facts ---------------------------------------------------------------


@dataclass(frozen=True)
class LadderState:
    episode: int = 0
    """Overdue episodes so far (a visitor who checks in and is late again starts another)."""
    active: bool = False
    started_at: datetime | None = None
    steps: tuple[PlannedStep, ...] = ()
    taken: tuple[int, ...] = ()
    ended_how: str | None = None

    def due_steps(self, now: datetime) -> list[int]:
        if not self.active or self.started_at is None:
            return []
        return due_steps(self.started_at, self.steps, self.taken, now)

    def next_due(self) -> datetime | None:
        """When the ladder next has a step to take; None when it is not running or is done."""
        if not self.active or self.started_at is None:
            return None
        return next_step_due(self.started_at, self.steps, self.taken)


@dataclass(frozen=True)
class Notice:
    """The visitor is not back: start an episode if `deadline` (return plus grace) passed."""

    deadline: datetime | None
    steps: tuple[PlannedStep, ...]


@dataclass(frozen=True)
class Take:
    """Take the steps due now (or only step `index`). `call_home` is what reception reported
    for this episode, if anything: it decides `inform_slt`."""

    call_home: CallHomeReport | None = None
    index: int | None = None


@dataclass(frozen=True)
class End:
    """Contact made (OK, back, extended): the ladder ends at whatever step it reached."""

    by: str
    how: str
    deadline: datetime | None
    grace: timedelta


Command = Notice | Take | End


@dataclass(frozen=True)
class Started:
    """Recorded as `Visit.OverdueNoticed`."""

    episode: int
    deadline: datetime
    steps: tuple[PlannedStep, ...]
    at: datetime


@dataclass(frozen=True)
class StepTaken:
    """Recorded as `Visit.LadderStepTaken`; `decision` for `inform_slt` only."""

    episode: int
    index: int
    action: Action
    at: datetime
    decision: SltDecision | None = None

    @property
    def carried_out(self) -> Action | None:
        """The action to carry out, or None when the policy says it is not needed now (the
        step is recorded either way, with why)."""
        return self.action if self.decision is None or self.decision.inform else None


@dataclass(frozen=True)
class Ended:
    """Recorded as `Visit.LadderEnded`. Still out after saying they are OK: the return is
    checked again at `next_deadline`, another grace period on."""

    episode: int
    by: str
    how: str
    steps_taken: int
    next_deadline: datetime
    at: datetime


Fact = Started | StepTaken | Ended


def decide(state: LadderState, command: Command, now: datetime) -> list[Fact]:
    """What the ladder does now. Refuses (DomainError, in words a person can act on) a start
    before the deadline or twice, and a named step not due; taking the steps due when none
    is, or ending a ladder not running, is nothing (so a repeat is harmless)."""
    if isinstance(command, Notice):
        if state.active:
            raise DomainError("the overdue ladder is already running")
        if command.deadline is None or now < command.deadline:
            raise DomainError("the visitor is not overdue yet")
        return [Started(state.episode + 1, command.deadline, command.steps, now)]
    if isinstance(command, Take):
        due = state.due_steps(now)
        if command.index is not None:
            if command.index not in due:
                raise DomainError(
                    f"overdue step {command.index + 1} is not due (or was already taken)"
                )
            due = [command.index]
        facts: list[Fact] = []
        for index in due:
            action = state.steps[index].action
            decision = slt_decision(command.call_home) if action is Action.INFORM_SLT else None
            facts.append(StepTaken(state.episode, index, action, now, decision))
        return facts
    if not state.active:
        return []
    return [
        Ended(
            episode=state.episode,
            by=command.by,
            how=command.how,
            steps_taken=len(state.taken),
            next_deadline=max(command.deadline or now, now + command.grace),
            at=now,
        )
    ]


def evolve(state: LadderState, fact: Fact) -> LadderState:
    if isinstance(fact, Started):
        return replace(
            state,
            episode=fact.episode,
            active=True,
            started_at=fact.at,
            steps=fact.steps,
            taken=(),
        )
    if isinstance(fact, StepTaken):
        return replace(state, taken=(*state.taken, fact.index))
    return replace(state, active=False, ended_how=fact.how)
