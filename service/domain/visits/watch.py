"""What is watched while a visit is out of school, and what is recorded when it passes:
not left the property on time, not back (the overdue ladder), the lone visitor's device
silent or its battery low.

`Watch` is a part of the `Visit` aggregate (a mixin: `Visit` lists these event classes in
its body, so they are stored as `Visit.<Event>` in service/domain/visits/visit.py, as they
always were). The ladder's rule itself is service/domain/visits/overdue_ladder.py; this
records what it decides. Times come in as arguments, never from a clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from service.domain.devices.health import low_battery_alert_due
from service.domain.errors import DomainError
from service.domain.visits import overdue_ladder
from service.domain.visits.overdue_ladder import (
    DEFAULT_OFFLINE_AFTER,
    Action,
    CallHomeReport,
    LadderState,
    SltDecision,
    call_home_task,
    grace_of,
    steps_data,
    steps_of,
)
from service.domain.visits.parts import VisitPart
from service.domain.visits.rules import LOW_BATTERY_BELOW, call_home_outcome
from service.domain.visits.states import OUT, VisitState, expect
from service.domain.visits.tasks import TaskState

# -- the events (each a `Visit.<name>` once listed in the aggregate's body) -------------------


class LeaveOverdueNoticed(Aggregate.Event):
    deadline: datetime

    def apply(self, aggregate: Any) -> None:
        aggregate.leave_prompted = True
        aggregate.leave_prompts += 1


class OverdueNoticed(Aggregate.Event):
    episode: int
    deadline: datetime
    steps: list[dict[str, Any]]

    def apply(self, aggregate: Any) -> None:
        fact = overdue_ladder.Started(
            self.episode, self.deadline, overdue_ladder.steps_from_data(self.steps), self.timestamp
        )
        aggregate.ladder = overdue_ladder.evolve(aggregate.ladder, fact)


class LadderStepTaken(Aggregate.Event):
    """`decision`, for `inform_slt` only: whether SLT was told, why, and whose report that
    rests on (events recorded before it existed have none: SLT was told)."""

    episode: int
    step: int
    action: str
    decision: dict[str, Any] | None = None

    def apply(self, aggregate: Any) -> None:
        decision = getattr(self, "decision", None)
        slt = SltDecision.from_event_data(decision) if decision else None
        fact = overdue_ladder.StepTaken(
            self.episode, self.step, Action(self.action), self.timestamp, slt
        )
        aggregate.ladder = overdue_ladder.evolve(aggregate.ladder, fact)
        task = overdue_ladder.task_opened(aggregate.id, self.episode, fact.action)
        if task is not None:
            aggregate.tasks[task] = {"state": TaskState.OPEN}


class LadderEnded(Aggregate.Event):
    episode: int
    by: str
    how: str
    steps_taken: int
    next_deadline: datetime

    def apply(self, aggregate: Any) -> None:
        fact = overdue_ladder.Ended(
            self.episode, self.by, self.how, self.steps_taken, self.next_deadline, self.timestamp
        )
        aggregate.ladder = overdue_ladder.evolve(aggregate.ladder, fact)
        aggregate.return_deadline = self.next_deadline
        task = aggregate.tasks.get(call_home_task(aggregate.id, self.episode))
        if task is not None and task["state"] is TaskState.OPEN:
            task["state"] = TaskState.NO_LONGER_NEEDED


class DeviceSilenceNoticed(Aggregate.Event):
    device: str
    last_seen: datetime

    def apply(self, aggregate: Any) -> None:
        aggregate.silences.append(self.last_seen.isoformat())


class LowBatteryNoticed(Aggregate.Event):
    device: str
    battery: int
    below: int

    def apply(self, aggregate: Any) -> None:
        aggregate.low_battery = {"battery": self.battery, "below": self.below, "at": self.timestamp}


# -- the commands --------------------------------------------------------------------------


class Watch(VisitPart):
    """The visit's deadline and device watch (see the module docstring)."""

    state: VisitState
    policy: dict[str, Any]
    device: str | None
    leave_deadline: datetime | None
    return_deadline: datetime | None
    leave_prompted: bool
    ladder: LadderState
    silences: list[str]
    low_battery: dict[str, Any] | None
    tasks: dict[str, dict[str, Any]]

    if TYPE_CHECKING:

        @property
        def lone(self) -> bool: ...

    # The overdue ladder's state, by the names the callers read.
    @property
    def ladder_active(self) -> bool:
        return self.ladder.active

    @property
    def overdue_episode(self) -> int:
        return self.ladder.episode

    @property
    def steps_taken(self) -> list[int]:
        return list(self.ladder.taken)

    @property
    def ladder_steps(self) -> list[dict[str, Any]]:
        return steps_data(self.ladder.steps)

    @property
    def ladder_ended_how(self) -> str | None:
        return self.ladder.ended_how

    @property
    def overdue_alert_key(self) -> str:
        return f"visit:{self.id}:overdue:{self.overdue_episode}"

    def _grace(self) -> timedelta:
        return grace_of(self.policy)

    def notice_leave_overdue(self, *, timestamp: datetime) -> None:
        """Not left the property by the expected time plus grace: ask the visitor to reply OK."""
        expect(self.state, "prompt the visitor of", VisitState.DEPARTED, VisitState.ARRIVED)
        if self.leave_prompted:
            raise DomainError("the visitor was already asked to confirm they are OK")
        if self.leave_deadline is None or timestamp < self.leave_deadline:
            raise DomainError("the expected time of leaving the property has not passed")
        self._trigger(LeaveOverdueNoticed, deadline=self.leave_deadline, timestamp=timestamp)

    def notice_overdue(self, *, timestamp: datetime) -> None:
        """Not back by the expected return plus grace: the overdue ladder starts."""
        expect(self.state, "mark overdue", *OUT)
        command = overdue_ladder.Notice(deadline=self.return_deadline, steps=steps_of(self.policy))
        self._record(overdue_ladder.decide(self.ladder, command, timestamp))

    def due_steps(self, now: datetime) -> list[int]:
        """The ladder's steps, in order, whose time has come and that were not taken."""
        return self.ladder.due_steps(now)

    def take_steps(self, *, timestamp: datetime) -> list[Action]:
        """Take every ladder step due now; returns the actions to carry out (a step the
        policy says is not needed now, `inform_slt` after reception reached the home and
        found no concern, is recorded with why, and not returned)."""
        return self._take(
            overdue_ladder.Take(self.call_home_report(self.overdue_episode)), timestamp
        )

    def take_step(self, index: int, *, timestamp: datetime) -> Action | None:
        """Take step `index` of the ladder alone (it must be due); its action, or None."""
        report = self.call_home_report(self.overdue_episode)
        taken = self._take(overdue_ladder.Take(report, index=index), timestamp)
        return taken[0] if taken else None

    def _take(self, command: overdue_ladder.Take, timestamp: datetime) -> list[Action]:
        facts = overdue_ladder.decide(self.ladder, command, timestamp)
        self._record(facts)
        return [
            f.carried_out
            for f in facts
            if isinstance(f, overdue_ladder.StepTaken) and f.carried_out is not None
        ]

    def end_ladder(self, *, by: str, how: str, timestamp: datetime) -> None:
        """Contact made: the ladder ends (nothing when it is not running)."""
        command = overdue_ladder.End(
            by=by, how=how, deadline=self.return_deadline, grace=self._grace()
        )
        self._record(overdue_ladder.decide(self.ladder, command, timestamp))

    def _record(self, facts: list[overdue_ladder.Fact]) -> None:
        """Record what the ladder decided, each fact as its event."""
        for fact in facts:
            if isinstance(fact, overdue_ladder.Started):
                self._trigger(
                    OverdueNoticed,
                    episode=fact.episode,
                    deadline=fact.deadline,
                    steps=steps_data(fact.steps),
                    timestamp=fact.at,
                )
            elif isinstance(fact, overdue_ladder.StepTaken):
                self._trigger(
                    LadderStepTaken,
                    episode=fact.episode,
                    step=fact.index,
                    action=fact.action.value,
                    timestamp=fact.at,
                    decision=fact.decision.as_event_data() if fact.decision else None,
                )
            else:
                self._trigger(
                    LadderEnded,
                    episode=fact.episode,
                    by=fact.by,
                    how=fact.how,
                    steps_taken=fact.steps_taken,
                    next_deadline=fact.next_deadline,
                    timestamp=fact.at,
                )

    def call_home_report(self, episode: int) -> CallHomeReport | None:
        """What reception reported about ringing the pupil's home in this overdue episode;
        None when they have not marked it done."""
        task = self.tasks.get(call_home_task(self.id, episode))
        if task is None or task["state"] is not TaskState.DONE:
            return None
        outcome = task.get("outcome")
        return CallHomeReport(
            outcome=call_home_outcome(outcome) if outcome else None, by=task["by"], at=task["at"]
        )

    # -- the lone visitor's device --------------------------------------------------------

    def notice_device_silence(self, *, last_seen: datetime, timestamp: datetime) -> None:
        """The lone visitor's device has sent nothing for the heartbeat's offline_after."""
        expect(self.state, "watch the device of", *OUT)
        if not self.lone or self.device is None:
            raise DomainError("only a lone visit's SOS device is watched")
        offline_after = timedelta(
            seconds=int(self.policy.get("offline_after", DEFAULT_OFFLINE_AFTER))
        )
        if timestamp - last_seen < offline_after:
            raise DomainError("the device was heard from within the heartbeat window")
        if last_seen.isoformat() in self.silences:
            raise DomainError("this silence of the device was already noticed")
        self._trigger(
            DeviceSilenceNoticed, device=self.device, last_seen=last_seen, timestamp=timestamp
        )

    def device_silence_alert_key(self, last_seen: datetime) -> str:
        return f"visit:{self.id}:device-silent:{last_seen.isoformat()}"

    def notice_low_battery(self, *, battery: int, timestamp: datetime) -> None:
        """'Where you are lone working, ensure that you collect the SOS device from
        reception, ensure that it is operational' (policy 001): a lone visitor's device
        reporting a battery below the school's `low_battery_below` while they are out is
        noticed once per visit (one amber alert, not one per reading)."""
        expect(self.state, "watch the device of", *OUT)
        if not self.lone or self.device is None:
            raise DomainError("only a lone visit's SOS device is watched")
        below = int(self.policy.get("low_battery_below", LOW_BATTERY_BELOW))
        if not low_battery_alert_due(battery, below, holder_on_visit=self.state in OUT):
            raise DomainError(f"a battery of {battery}% is not below the school's {below}%")
        if self.low_battery is not None:
            raise DomainError("the device's low battery was already noticed on this visit")
        self._trigger(
            LowBatteryNoticed,
            device=self.device,
            battery=battery,
            below=below,
            timestamp=timestamp,
        )

    @property
    def low_battery_alert_key(self) -> str:
        return f"visit:{self.id}:low-battery"
