"""A home visit, from plan to close, as the schools' home-visit policies describe it.

Commands check and record; every refusal says what to do instead. Times come in
as arguments (the injected clock's reading), never from `datetime.now`. The rules
a sentence long live in service/domain/visits/rules.py; the visit out of school (sign out
to sign back in) in service/domain/visits/away.py; what is watched while the visit is out
(the overdue ladder, the device) in service/domain/visits/watch.py.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from service.domain.errors import DomainError
from service.domain.ids import NAMESPACE
from service.domain.people.access import Principal
from service.domain.visits import away, before, during, followups, incidents, tasks, watch
from service.domain.visits.away import Away
from service.domain.visits.before import BeforeVisit
from service.domain.visits.during import During
from service.domain.visits.incidents import Incidents
from service.domain.visits.overdue_ladder import LadderState
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.readiness import AUTHORISE, record
from service.domain.visits.rules import (
    Purpose,
    ReportOutcome,
    check_plan,
    hazard_rows,
    risk_problem,
)
from service.domain.visits.states import OUT, VisitState, expect
from service.domain.visits.tasks import Tasks, TaskState, concern_task
from service.domain.visits.watch import Watch
from service.domain.visits.who_authorises import Authorisation, authorisation


def visit_id(ref: str) -> UUID:
    """A visit's id derives from its reference, so a repeated plan request creates one visit."""
    return uuid5(NAMESPACE, f"visit/{ref}")


# -- the aggregate ---------------------------------------------------------------


class Visit(BeforeVisit, Away, Watch, Tasks, During, Incidents, Aggregate):
    # The events of the deadline and device watch (service/domain/visits/watch.py): listed
    # here, they are this aggregate's own, stored as `Visit.<name>` as they always were.
    LeaveOverdueNoticed = watch.LeaveOverdueNoticed
    OverdueNoticed = watch.OverdueNoticed
    LadderStepTaken = watch.LadderStepTaken
    LadderEnded = watch.LadderEnded
    DeviceSilenceNoticed = watch.DeviceSilenceNoticed
    LowBatteryNoticed = watch.LowBatteryNoticed
    TaskCompleted = tasks.TaskCompleted  # service/domain/visits/tasks.py
    CompanionNamed = before.CompanionNamed  # service/domain/visits/before.py
    CompanionsDecided = before.CompanionsDecided
    ParentsInformed = before.ParentsInformed
    VisitorConfirmed = before.VisitorConfirmed
    PolicyApplied = before.PolicyApplied
    ConcernRaised = during.ConcernRaised  # at the property: service/domain/visits/during.py
    DecisionRecorded = during.DecisionRecorded
    EndedEarly = during.EndedEarly
    NextPlaceGiven = during.NextPlaceGiven
    FollowUpLogged = followups.FollowUpLogged  # service/domain/visits/followups.py
    FollowUpDone = followups.FollowUpDone
    IncidentRecorded = incidents.IncidentRecorded  # service/domain/visits/incidents.py
    Departed = away.Departed  # out of school: service/domain/visits/away.py
    Arrived = away.Arrived
    LeftProperty = away.LeftProperty
    NoAnswer = away.NoAnswer
    Returned = away.Returned
    CheckedIn = away.CheckedIn

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
        check_plan(
            visitors=visitors,
            pupil_ref=pupil_ref,
            address=address,
            purpose=purpose,
            times=(planned_start, expected_leave, expected_return),
            mobile=mobile,
            safe_word_hash=safe_word_hash,
        )
        assert safe_word_hash is not None
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
        self.ladder = LadderState()
        self.silences: list[str] = []
        self.low_battery: dict[str, Any] | None = None
        self.no_answer = False
        self.report: dict[str, Any] | None = None
        self.departed_at: datetime | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.before: dict[str, Any] = {}  # service/domain/visits/readiness.py

    @property
    def lone(self) -> bool:
        return len(self.staff) == 1

    @property
    def lead(self) -> str:
        return self.staff[0]

    def _expect(self, action: str, *states: VisitState) -> None:
        expect(self.state, action, *states)

    # -- before the visit ----------------------------------------------------------

    def assess_risk(self, *, hazards: list[dict[str, Any]], by: str, timestamp: datetime) -> None:
        """Undertake a risk assessment (the policies' appendix); a new one replaces the last."""
        self._expect("change the risk assessment of", VisitState.PLANNED)
        self._risk_assessed(hazards=hazard_rows(hazards, self.purpose), by=by, timestamp=timestamp)

    @event("RiskAssessed")
    def _risk_assessed(self, hazards: list[dict[str, Any]], by: str, timestamp: datetime) -> None:
        self.hazards = hazards
        self.before = record(self.before, "RiskAssessed", {})

    def authorisation_for(
        self,
        principal: Principal,
        *,
        working_hours: str,
        timezone: str,
        rules: VisitPolicy | None = None,
    ) -> Authorisation:
        """Whether `principal` may authorise this visit, and who may: the rule `authorise`
        refuses with, asked by the board before the button is pressed."""
        return authorisation(
            principal,
            school=self.school,
            start=self.planned_start,
            end=self.expected_return,
            authorised_by=(rules or VisitPolicy()).authorised_by,
            working_hours=working_hours,
            timezone=timezone,
        )

    def authorise(
        self,
        *,
        principal: Principal,
        working_hours: str,
        timezone: str,
        timestamp: datetime,
        rules: VisitPolicy | None = None,
        trained: Collection[str] = (),
    ) -> None:
        """By whom the school's policy names (an evening visit: the headteacher), once the
        risk assessment and every check of the policy before authorising are done."""
        self._expect("authorise", VisitState.PLANNED)
        rules = rules or VisitPolicy()
        who = self.authorisation_for(
            principal, working_hours=working_hours, timezone=timezone, rules=rules
        )
        refusal = who.refusal or risk_problem(self.hazards)
        if refusal:
            raise DomainError(refusal)
        self._apply_policy(
            step=AUTHORISE,
            by=principal.actor,
            rules=rules,
            trained=trained,
            timestamp=timestamp,
            zone=ZoneInfo(timezone),
        )
        self._authorised(
            by=principal.actor,
            role=principal.role.value,
            headteacher_needed=who.headteacher_because,
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
        self._expect("extend", VisitState.PLANNED, VisitState.AUTHORISED, *OUT)
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
            self.end_ladder(by=by, how=f"extended: {reason.strip()}", timestamp=timestamp)

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
