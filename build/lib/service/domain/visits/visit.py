"""A home visit, from plan to close, as the schools' home-visit policies describe it.

Commands check and record; every refusal says what to do instead. Times come in
as arguments (the injected clock's reading), never from `datetime.now`. The rules
a sentence long live in service/domain/visits/rules.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.devices.health import low_battery_alert_due
from service.domain.errors import DomainError, InvalidTransition, NotFound
from service.domain.ids import NAMESPACE
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.overdue import (
    INFORM_SLT,
    RECEPTION_CALLS_HOME,
    CallHomeReport,
    slt_decision,
)
from service.domain.visits.rules import (
    LOW_BATTERY_BELOW,
    DeviceCheck,
    OverduePolicy,
    Purpose,
    ReportOutcome,
    RiskLevel,
    call_home_outcome,
    can_authorise,
    device_problem,
    hazard_rows,
    needs_headteacher,
    pupil_ref_problem,
)

_MOBILE = re.compile(r"^\+[1-9][0-9]{6,14}$")


class VisitState(StrEnum):
    PLANNED = "planned"
    AUTHORISED = "authorised"
    DEPARTED = "departed"  # signed out, on the way
    ARRIVED = "arrived"  # at the property
    LEFT = "left"  # left the property, not yet signed back in
    RETURNED = "returned"  # signed back in
    REPORTED = "reported"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OUT = frozenset({VisitState.DEPARTED, VisitState.ARRIVED, VisitState.LEFT})
"""Away from school: the states the overdue ladder and device watch cover."""


def visit_id(ref: str) -> UUID:
    """A visit's id derives from its reference, so a repeated plan request creates one visit."""
    return uuid5(NAMESPACE, f"visit/{ref}")


def whereabouts_id(staff: str) -> UUID:
    return uuid5(NAMESPACE, f"whereabouts/{staff}")


# -- tasks the visit gives people -----------------------------------------------------
CALL_HOME = "visit-call-home"
CONCERN = "visit-concern"


def call_home_task(visit: UUID, episode: int) -> str:
    """Reception rings the pupil's home: one task per overdue episode that reached that step."""
    return f"{CALL_HOME}:{visit}:{episode}"


def concern_task(visit: UUID) -> str:
    """The DSL follows up a safeguarding concern from the visit's report."""
    return f"{CONCERN}:{visit}"


def task_visit(task: str) -> UUID | None:
    """The visit a task id belongs to; None when it is not a visit's task id."""
    kind, _, rest = task.partition(":")
    if kind not in (CALL_HOME, CONCERN):
        return None
    try:
        return UUID(rest.split(":")[0])
    except ValueError:
        return None


def task_for_role(task: str) -> str:
    """Who a task is for: a concern is the DSL's, ringing home is reception's."""
    return "dsl" if task.startswith(f"{CONCERN}:") else "reception"


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    NO_LONGER_NEEDED = "no_longer_needed"


# -- the aggregate ---------------------------------------------------------------


class Visit(Aggregate):
    @staticmethod
    def create_id(ref: str) -> UUID:
        return visit_id(ref)

    @classmethod
    def plan(
        cls,
        *,
        ref: str,
        school: str,
        staff: list[str],
        pupil_ref: str,
        address: str,
        purpose: str,
        planned_start: datetime,
        expected_leave: datetime,
        expected_return: datetime,
        doorstep: bool,
        mobile: str,
        safe_word_hash: str | None,
        planned_by: str,
        timestamp: datetime,
    ) -> Visit:
        """Check the plan, then record it (`Visit(...)` itself records without checking)."""
        visitors = [s for s in dict.fromkeys(staff) if s]
        if not 1 <= len(visitors) <= 2:
            raise DomainError("a visit is made by one staff member (lone) or two (a pair)")
        problem = pupil_ref_problem(pupil_ref)
        if problem:
            raise DomainError(problem)
        if not address.strip():
            raise DomainError("give the address being visited")
        try:
            Purpose(purpose)
        except ValueError:
            raise DomainError(f"purpose must be one of: {', '.join(Purpose)}") from None
        if not planned_start < expected_leave <= expected_return:
            raise DomainError(
                "times must run planned start < expected time of leaving the property"
                " <= expected return"
            )
        if not _MOBILE.match(mobile):
            raise DomainError(
                f"mobile {mobile!r} must be an international number like +447700900001"
            )
        if not safe_word_hash:
            raise DomainError("the visit needs a safe word: set one here or in the directory")
        return cls(
            ref=ref,
            school=school,
            staff=visitors,
            pupil_ref=pupil_ref,
            address=address.strip(),
            purpose=purpose,
            planned_start=planned_start,
            expected_leave=expected_leave,
            expected_return=expected_return,
            doorstep=doorstep,
            mobile=mobile,
            safe_word_hash=safe_word_hash,
            planned_by=planned_by,
            timestamp=timestamp,
        )

    @event("Planned")
    def __init__(
        self,
        ref: str,
        school: str,
        staff: list[str],
        pupil_ref: str,
        address: str,
        purpose: str,
        planned_start: datetime,
        expected_leave: datetime,
        expected_return: datetime,
        doorstep: bool,
        mobile: str,
        safe_word_hash: str,
        planned_by: str,
        timestamp: datetime,
    ) -> None:
        self.ref = ref
        self.school = school
        self.staff = list(staff)
        self.pupil_ref = pupil_ref
        self.address = address
        self.purpose = Purpose(purpose)
        self.planned_start = planned_start
        self.expected_leave = expected_leave
        self.expected_return = expected_return
        self.doorstep = doorstep
        self.mobile = mobile
        self.safe_word_hash = safe_word_hash
        self.planned_by = planned_by
        self.state = VisitState.PLANNED
        self.hazards: list[dict[str, Any]] = []
        self.authorised_by: str | None = None
        self.device: str | None = None
        self.policy: dict[str, Any] = {}
        self.leave_deadline: datetime | None = None
        self.return_deadline: datetime | None = None
        self.leave_prompted = False
        self.leave_prompts = 0
        self.ladder_ended_how: str | None = None
        self.overdue_episode = 0
        self.ladder_active = False
        self.ladder_started_at: datetime | None = None
        self.steps_taken: list[int] = []
        self.silences: list[str] = []
        self.low_battery: dict[str, Any] | None = None
        self.no_answer = False
        self.report: dict[str, Any] | None = None
        self.ladder_steps: list[dict[str, Any]] = []
        self.departed_at: datetime | None = None
        self.tasks: dict[str, dict[str, Any]] = {}

    @property
    def lone(self) -> bool:
        return len(self.staff) == 1

    @property
    def lead(self) -> str:
        return self.staff[0]

    @property
    def overdue_alert_key(self) -> str:
        return f"visit:{self.id}:overdue:{self.overdue_episode}"

    def _expect(self, action: str, *states: VisitState) -> None:
        if self.state in states:
            return
        hints = {
            VisitState.PLANNED: "it has not been authorised yet",
            VisitState.AUTHORISED: "the visitor has not signed out (depart) yet",
            VisitState.DEPARTED: "the visitor is on the way and has not arrived",
            VisitState.ARRIVED: "the visitor is at the property",
            VisitState.LEFT: "the visitor has left the property and is not back yet",
            VisitState.RETURNED: "the visitor is already signed back in",
            VisitState.REPORTED: "the visit has been reported",
            VisitState.CLOSED: "the visit is closed",
            VisitState.CANCELLED: "the visit was cancelled",
        }
        raise InvalidTransition(f"cannot {action} this visit: {hints[self.state]}")

    # -- before the visit ----------------------------------------------------------

    def assess_risk(self, *, hazards: list[dict[str, Any]], by: str, timestamp: datetime) -> None:
        """Undertake a risk assessment (the policies' appendix); a new one replaces the last."""
        self._expect("change the risk assessment of", VisitState.PLANNED)
        self._risk_assessed(hazards=hazard_rows(hazards, self.purpose), by=by, timestamp=timestamp)

    @event("RiskAssessed")
    def _risk_assessed(self, hazards: list[dict[str, Any]], by: str, timestamp: datetime) -> None:
        self.hazards = hazards

    def authorise(
        self, *, principal: Principal, working_hours: str, timezone: str, timestamp: datetime
    ) -> None:
        self._expect("authorise", VisitState.PLANNED)
        refusal = can_authorise(principal, self.school)
        if refusal:
            raise DomainError(refusal)
        if not self.hazards:
            raise DomainError(
                "all home visits must be risk assessed before they are authorised: "
                "record the risk assessment first"
            )
        high = [h["hazard"] for h in self.hazards if h["risk"] == RiskLevel.HIGH]
        if high:
            raise DomainError(
                f"the risk assessment rates {', '.join(high)} high: visits which place staff "
                "at risk are not allowed; add controls and reassess"
            )
        reason = needs_headteacher(
            self.planned_start, self.expected_return, working_hours=working_hours, timezone=timezone
        )
        if reason and principal.role is not Role.HEADTEACHER:
            raise DomainError(
                f"this visit needs the headteacher's express approval because {reason}"
            )
        self._authorised(
            by=principal.actor,
            role=principal.role.value,
            headteacher_needed=reason,
            timestamp=timestamp,
        )

    @event("Authorised")
    def _authorised(
        self, by: str, role: str, headteacher_needed: str | None, timestamp: datetime
    ) -> None:
        self.authorised_by = by
        self.state = VisitState.AUTHORISED

    def extend(
        self,
        *,
        by: str,
        reason: str,
        expected_leave: datetime | None,
        expected_return: datetime | None,
        timestamp: datetime,
    ) -> None:
        """New expected times, with a reason. Contact made this way ends an overdue ladder."""
        self._expect(
            "extend",
            VisitState.PLANNED,
            VisitState.AUTHORISED,
            *OUT,
        )
        if not reason.strip():
            raise DomainError("say why the visit is extended (a reason is recorded)")
        leave = expected_leave or self.expected_leave
        back = expected_return or self.expected_return
        if expected_leave is None and expected_return is None:
            raise DomainError("give a new expected_leave and/or expected_return")
        if not leave <= back:
            raise DomainError("the expected time of leaving must not be after the expected return")
        if back <= timestamp:
            raise DomainError("the new expected return must be in the future")
        grace = self._grace()
        self._extended(
            by=by,
            reason=reason.strip(),
            expected_leave=leave,
            expected_return=back,
            leave_deadline=leave + grace if self.state in OUT else None,
            return_deadline=back + grace if self.state in OUT else None,
            timestamp=timestamp,
        )
        if self.ladder_active:
            self._end_ladder(by=by, how=f"extended: {reason.strip()}", timestamp=timestamp)

    @event("Extended")
    def _extended(
        self,
        by: str,
        reason: str,
        expected_leave: datetime,
        expected_return: datetime,
        leave_deadline: datetime | None,
        return_deadline: datetime | None,
        timestamp: datetime,
    ) -> None:
        if expected_leave != self.expected_leave:
            self.leave_prompted = False
        self.expected_leave = expected_leave
        self.expected_return = expected_return
        if leave_deadline is not None:
            self.leave_deadline = leave_deadline
        if return_deadline is not None:
            self.return_deadline = return_deadline

    def cancel(self, *, by: str, reason: str, timestamp: datetime) -> None:
        self._expect("cancel", VisitState.PLANNED, VisitState.AUTHORISED)
        if not reason.strip():
            raise DomainError("say why the visit is cancelled")
        self._cancelled(by=by, reason=reason.strip(), timestamp=timestamp)

    @event("Cancelled")
    def _cancelled(self, by: str, reason: str, timestamp: datetime) -> None:
        self.state = VisitState.CANCELLED

    # -- the visit -------------------------------------------------------------------

    def depart(
        self, *, by: str, device: DeviceCheck, policy: OverduePolicy, timestamp: datetime
    ) -> None:
        """Sign out. A lone visitor must take an operational SOS device."""
        self._expect("sign out for", VisitState.AUTHORISED)
        if self.lone:
            problem = device_problem(
                device=device.device,
                last_seen=device.last_seen,
                battery=device.battery,
                now=timestamp,
                offline_after=policy.offline_after,
                low_battery_below=policy.low_battery_below,
            )
            if problem:
                raise DomainError(problem)
        self._departed(
            by=by,
            device=device.device if self.lone else None,
            device_last_seen=device.last_seen if self.lone else None,
            device_battery=device.battery if self.lone else None,
            policy={
                "grace": int(policy.grace.total_seconds()),
                "steps": [{"after": after, "do": do} for after, do in policy.steps],
                "offline_after": int(policy.offline_after.total_seconds()),
                "low_battery_below": policy.low_battery_below,
            },
            leave_deadline=self.expected_leave + policy.grace,
            return_deadline=self.expected_return + policy.grace,
            timestamp=timestamp,
        )

    @event("Departed")
    def _departed(
        self,
        by: str,
        device: str | None,
        device_last_seen: datetime | None,
        device_battery: int | None,
        policy: dict[str, Any],
        leave_deadline: datetime,
        return_deadline: datetime,
        timestamp: datetime,
    ) -> None:
        self.state = VisitState.DEPARTED
        self.device = device
        self.policy = policy
        self.leave_deadline = leave_deadline
        self.return_deadline = return_deadline
        self.departed_at = timestamp

    def _grace(self) -> timedelta:
        return timedelta(seconds=int(self.policy.get("grace", 600)))

    def arrive(self, *, by: str, via: str, timestamp: datetime) -> None:
        self._expect("record arriving at", VisitState.DEPARTED)
        self._arrived(by=by, via=via, timestamp=timestamp)

    @event("Arrived")
    def _arrived(self, by: str, via: str, timestamp: datetime) -> None:
        self.state = VisitState.ARRIVED

    def leave(self, *, by: str, via: str, timestamp: datetime) -> None:
        """Left the property (let the school know immediately)."""
        self._expect("record leaving the property on", VisitState.DEPARTED, VisitState.ARRIVED)
        self._left_property(by=by, via=via, timestamp=timestamp)

    @event("LeftProperty")
    def _left_property(self, by: str, via: str, timestamp: datetime) -> None:
        self.state = VisitState.LEFT

    def record_no_answer(self, *, by: str, via: str, timestamp: datetime) -> None:
        """No response from the property: a 'sorry we missed you' letter is left, and the
        visitor leaves."""
        self._expect("record no answer on", VisitState.DEPARTED, VisitState.ARRIVED)
        self._no_answer(by=by, via=via, timestamp=timestamp)

    @event("NoAnswer")
    def _no_answer(self, by: str, via: str, timestamp: datetime) -> None:
        self.state = VisitState.LEFT
        self.no_answer = True

    def return_(self, *, by: str, via: str, timestamp: datetime) -> None:
        """Signed back in; ends an overdue ladder at whatever step it had reached."""
        self._expect("sign back in from", *OUT)
        if self.ladder_active:
            self._end_ladder(by=by, how=f"returned ({via})", timestamp=timestamp)
        self._returned(by=by, via=via, timestamp=timestamp)

    @event("Returned")
    def _returned(self, by: str, via: str, timestamp: datetime) -> None:
        self.state = VisitState.RETURNED

    def check_in(self, *, by: str, via: str, timestamp: datetime) -> None:
        """The visitor says they are OK (a text, a device check-in). During an overdue
        ladder this ends it; otherwise it answers the prompt to confirm."""
        self._expect("check in on", *OUT)
        if self.ladder_active:
            self._end_ladder(by=by, how=via, timestamp=timestamp)
        else:
            self._checked_in(by=by, via=via, timestamp=timestamp)

    @event("CheckedIn")
    def _checked_in(self, by: str, via: str, timestamp: datetime) -> None:
        pass

    # -- after the visit ----------------------------------------------------------

    def report_outcome(
        self,
        *,
        by: str,
        outcome: str,
        notes: str,
        safeguarding_concern: bool,
        timestamp: datetime,
    ) -> None:
        self._expect("report", VisitState.RETURNED)
        try:
            ReportOutcome(outcome)
        except ValueError:
            raise DomainError(f"outcome must be one of: {', '.join(ReportOutcome)}") from None
        if not notes.strip():
            raise DomainError("write up the outcome of the visit in the notes")
        self._reported(
            by=by,
            outcome=outcome,
            notes=notes.strip(),
            safeguarding_concern=safeguarding_concern,
            timestamp=timestamp,
        )

    @event("Reported")
    def _reported(
        self, by: str, outcome: str, notes: str, safeguarding_concern: bool, timestamp: datetime
    ) -> None:
        self.state = VisitState.REPORTED
        self.report = {"outcome": outcome, "notes": notes, "concern": safeguarding_concern}
        if safeguarding_concern:
            self.tasks[concern_task(self.id)] = {"state": TaskState.OPEN}

    def close(self, *, by: str, timestamp: datetime) -> None:
        self._expect("close", VisitState.REPORTED)
        self._closed(by=by, timestamp=timestamp)

    @event("Closed")
    def _closed(self, by: str, timestamp: datetime) -> None:
        self.state = VisitState.CLOSED

    # -- deadlines noticed (timer actions) ----------------------------------------

    def notice_leave_overdue(self, *, timestamp: datetime) -> None:
        """Not left the property by the expected time plus grace: ask the visitor to reply OK."""
        self._expect("prompt the visitor of", VisitState.DEPARTED, VisitState.ARRIVED)
        if self.leave_prompted:
            raise DomainError("the visitor was already asked to confirm they are OK")
        if self.leave_deadline is None or timestamp < self.leave_deadline:
            raise DomainError("the expected time of leaving the property has not passed")
        self._leave_overdue_noticed(deadline=self.leave_deadline, timestamp=timestamp)

    @event("LeaveOverdueNoticed")
    def _leave_overdue_noticed(self, deadline: datetime, timestamp: datetime) -> None:
        self.leave_prompted = True
        self.leave_prompts += 1

    def notice_overdue(self, *, timestamp: datetime) -> None:
        """Not back by the expected return plus grace: the overdue ladder starts."""
        self._expect("mark overdue", *OUT)
        if self.ladder_active:
            raise DomainError("the overdue ladder is already running")
        if self.return_deadline is None or timestamp < self.return_deadline:
            raise DomainError("the visitor is not overdue yet")
        self._overdue_noticed(
            episode=self.overdue_episode + 1,
            deadline=self.return_deadline,
            steps=list(self.policy.get("steps") or []),
            timestamp=timestamp,
        )

    @event("OverdueNoticed")
    def _overdue_noticed(
        self, episode: int, deadline: datetime, steps: list[dict[str, Any]], timestamp: datetime
    ) -> None:
        self.overdue_episode = episode
        self.ladder_active = True
        self.ladder_started_at = timestamp
        self.ladder_steps = steps
        self.steps_taken = []

    def due_steps(self, now: datetime) -> list[int]:
        """The ladder's steps, in order, whose time has come and that were not taken."""
        if not self.ladder_active or self.ladder_started_at is None:
            return []
        return [
            i
            for i, step in enumerate(self.ladder_steps)
            if i not in self.steps_taken
            and self.ladder_started_at + timedelta(seconds=int(step["after"])) <= now
        ]

    def take_step(self, index: int, *, timestamp: datetime) -> str | None:
        """Record that step `index` of the ladder is being taken; returns the action to carry
        out, or None when the policy says it is not needed now (`inform_slt` after reception
        reached the home and found no concern): the step is recorded either way, with why."""
        if index not in self.due_steps(timestamp):
            raise DomainError(f"overdue step {index + 1} is not due (or was already taken)")
        action = str(self.ladder_steps[index]["do"])
        decision = None
        if action == INFORM_SLT:
            decision = slt_decision(self.call_home_report(self.overdue_episode)).as_event_data()
        self._ladder_step_taken(
            episode=self.overdue_episode,
            step=index,
            action=action,
            timestamp=timestamp,
            decision=decision,
        )
        return action if decision is None or decision["inform"] else None

    @event("LadderStepTaken")
    def _ladder_step_taken(
        self,
        episode: int,
        step: int,
        action: str,
        timestamp: datetime,
        decision: dict[str, Any] | None = None,
    ) -> None:
        """`decision`, for `inform_slt` only: whether SLT was told, why, and whose report
        that rests on (events recorded before it existed have none: SLT was told)."""
        self.steps_taken.append(step)
        if action == RECEPTION_CALLS_HOME:
            self.tasks[call_home_task(self.id, episode)] = {"state": TaskState.OPEN}

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

    def next_step_due(self) -> datetime | None:
        if not self.ladder_active or self.ladder_started_at is None:
            return None
        pending = [
            self.ladder_started_at + timedelta(seconds=int(step["after"]))
            for i, step in enumerate(self.ladder_steps)
            if i not in self.steps_taken
        ]
        return min(pending) if pending else None

    def _end_ladder(self, *, by: str, how: str, timestamp: datetime) -> None:
        self._ladder_ended(
            episode=self.overdue_episode,
            by=by,
            how=how,
            steps_taken=len(self.steps_taken),
            # Still out after saying they are OK: check again after another grace period.
            next_deadline=max(self.return_deadline or timestamp, timestamp + self._grace()),
            timestamp=timestamp,
        )

    @event("LadderEnded")
    def _ladder_ended(
        self,
        episode: int,
        by: str,
        how: str,
        steps_taken: int,
        next_deadline: datetime,
        timestamp: datetime,
    ) -> None:
        self.ladder_active = False
        self.ladder_ended_how = how
        self.return_deadline = next_deadline
        task = self.tasks.get(call_home_task(self.id, episode))
        if task is not None and task["state"] is TaskState.OPEN:
            task["state"] = TaskState.NO_LONGER_NEEDED

    def notice_device_silence(self, *, last_seen: datetime, timestamp: datetime) -> None:
        """The lone visitor's device has sent nothing for the heartbeat's offline_after."""
        self._expect("watch the device of", *OUT)
        if not self.lone or self.device is None:
            raise DomainError("only a lone visit's SOS device is watched")
        offline_after = timedelta(seconds=int(self.policy.get("offline_after", 180)))
        if timestamp - last_seen < offline_after:
            raise DomainError("the device was heard from within the heartbeat window")
        if last_seen.isoformat() in self.silences:
            raise DomainError("this silence of the device was already noticed")
        self._device_silence_noticed(device=self.device, last_seen=last_seen, timestamp=timestamp)

    @event("DeviceSilenceNoticed")
    def _device_silence_noticed(
        self, device: str, last_seen: datetime, timestamp: datetime
    ) -> None:
        self.silences.append(last_seen.isoformat())

    def device_silence_alert_key(self, last_seen: datetime) -> str:
        return f"visit:{self.id}:device-silent:{last_seen.isoformat()}"

    def notice_low_battery(self, *, battery: int, timestamp: datetime) -> None:
        """'Where you are lone working, ensure that you collect the SOS device from
        reception, ensure that it is operational' (policy 001): a lone visitor's device
        reporting a battery below the school's `low_battery_below` while they are out is
        noticed once per visit (one amber alert, not one per reading)."""
        self._expect("watch the device of", *OUT)
        if not self.lone or self.device is None:
            raise DomainError("only a lone visit's SOS device is watched")
        below = int(self.policy.get("low_battery_below", LOW_BATTERY_BELOW))
        if not low_battery_alert_due(battery, below, holder_on_visit=self.state in OUT):
            raise DomainError(f"a battery of {battery}% is not below the school's {below}%")
        if self.low_battery is not None:
            raise DomainError("the device's low battery was already noticed on this visit")
        self._low_battery_noticed(
            device=self.device, battery=battery, below=below, timestamp=timestamp
        )

    @event("LowBatteryNoticed")
    def _low_battery_noticed(
        self, device: str, battery: int, below: int, timestamp: datetime
    ) -> None:
        self.low_battery = {"battery": battery, "below": below, "at": timestamp}

    @property
    def low_battery_alert_key(self) -> str:
        return f"visit:{self.id}:low-battery"

    # -- tasks (reception's call home, the DSL's concern) -----------------------------

    def complete_task(
        self, task: str, *, by: str, note: str, timestamp: datetime, outcome: str | None = None
    ) -> bool:
        """Mark a task done, with who, an optional note and, for reception's call to the
        pupil's home, what they found (`CallHomeOutcome`: it decides whether SLT is told).
        The same person marking it done again changes nothing (False); anyone else is told
        who did it."""
        found = self.tasks.get(task)
        if found is None:
            raise NotFound("task not found")
        if outcome is not None:
            if not task.startswith(f"{CALL_HOME}:"):
                raise DomainError(
                    "an outcome is given only for reception's call to the pupil's home"
                )
            outcome = call_home_outcome(outcome).value
        if found["state"] is TaskState.DONE and found.get("by") == by:
            if outcome is not None and outcome != found.get("outcome"):
                raise InvalidTransition(
                    f"you already marked this done at {found['at']:%H:%M} UTC with "
                    f"{found.get('outcome') or 'no outcome'}; it cannot be changed now"
                )
            return False
        if found["state"] is TaskState.DONE:
            raise InvalidTransition(
                f"this task was already done by {found['by']} at {found['at']:%H:%M} UTC"
            )
        if found["state"] is TaskState.NO_LONGER_NEEDED:
            raise InvalidTransition(
                "this task is no longer needed: the visitor made contact and the overdue "
                "ladder ended"
            )
        self._task_completed(
            task=task, by=by, note=note.strip(), timestamp=timestamp, outcome=outcome
        )
        return True

    @event("TaskCompleted")
    def _task_completed(
        self, task: str, by: str, note: str, timestamp: datetime, outcome: str | None = None
    ) -> None:
        self.tasks[task] = {
            "state": TaskState.DONE,
            "by": by,
            "at": timestamp,
            "note": note,
            "outcome": outcome,
        }


class Whereabouts(Aggregate):
    """Which visit a staff member is out on (the reception sign-out book), so a text
    from them moves the right visit on."""

    @staticmethod
    def create_id(staff: str) -> UUID:
        return whereabouts_id(staff)

    @event("Registered")
    def __init__(self, staff: str, timestamp: datetime) -> None:
        self.staff = staff
        self.visit: UUID | None = None

    def sign_out(self, visit: UUID, timestamp: datetime) -> None:
        if self.visit is not None and self.visit != visit:
            raise InvalidTransition(
                f"{self.staff} is still signed out on visit {self.visit}: sign back in first"
            )
        self._signed_out(visit=visit, timestamp=timestamp)

    @event("SignedOut")
    def _signed_out(self, visit: UUID, timestamp: datetime) -> None:
        self.visit = visit

    def sign_in(self, visit: UUID, timestamp: datetime) -> None:
        if self.visit == visit:
            self._signed_in(visit=visit, timestamp=timestamp)

    @event("SignedIn")
    def _signed_in(self, visit: UUID, timestamp: datetime) -> None:
        self.visit = None
