"""A home visit, from plan to close, as the schools' home-visit policies describe it.

Commands check and record; every refusal says what to do instead. Times come in
as arguments (the injected clock's reading), never from `datetime.now`. The
rules a sentence long (who may authorise, when a headteacher must, what makes a
device fit to take, what a pupil reference may look like) are plain functions
below the aggregate, testable in a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from service.domain.access import Principal
from service.domain.directory import Role
from service.domain.errors import DomainError, InvalidTransition
from service.domain.ids import NAMESPACE


class Purpose(StrEnum):
    """The reasons for a home visit the policies list."""

    PROCEDURAL = "procedural"
    WORK_DROP_OFF_OR_COLLECT = "work_drop_off_or_collect"
    SAFE_AND_WELL = "safe_and_well"
    ATTENDANCE = "attendance"
    TRANSITION = "transition"
    TRANSPORT_PUPIL = "transport_pupil"
    RELATIONSHIP_BUILDING = "relationship_building"
    OTHER = "other"


class Hazard(StrEnum):
    """The hazards of the policies' Community Lone Working Risk Assessment (appendix)."""

    AGGRESSIVE_PERSON = "aggressive_person"
    ANIMALS = "animals"
    DRIVING = "driving"
    PUBLIC_AREAS = "public_areas"
    ILLNESS_OR_INJURY = "illness_or_injury"
    ENTERING_BEDROOM = "entering_bedroom"
    TRANSPORTING_PUPIL = "transporting_pupil"


# Every school's appendix assesses these five; the other two when the visit involves them.
ALWAYS_ASSESSED = (
    Hazard.AGGRESSIVE_PERSON,
    Hazard.ANIMALS,
    Hazard.DRIVING,
    Hazard.PUBLIC_AREAS,
    Hazard.ILLNESS_OR_INJURY,
)


class Likelihood(StrEnum):
    REMOTE = "remote"
    POSSIBLE = "possible"
    LIKELY = "likely"


class HarmSeverity(StrEnum):
    MINOR = "minor"
    SERIOUS = "serious"
    MAJOR = "major"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


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


class ReportOutcome(StrEnum):
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    ENTRY_REFUSED = "entry_refused"
    LEFT_EARLY_FOR_SAFETY = "left_early_for_safety"
    OTHER = "other"


AUTHORISERS = frozenset({Role.HEADTEACHER, Role.DSL})
EVENING_FROM = time(18, 0)
_PUPIL_REF = re.compile(r"^(?=.*\d)[A-Za-z0-9_/-]{3,32}$")
_MOBILE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def visit_id(ref: str) -> UUID:
    """A visit's id derives from its reference, so a repeated plan request creates one visit."""
    return uuid5(NAMESPACE, f"visit/{ref}")


def whereabouts_id(staff: str) -> UUID:
    return uuid5(NAMESPACE, f"whereabouts/{staff}")


# -- rules a sentence long -------------------------------------------------------


def pupil_ref_problem(ref: str) -> str | None:
    """Events carry an opaque pupil reference (like UPN-0042), never a pupil's name."""
    if _PUPIL_REF.match(ref):
        return None
    return (
        f"pupil reference {ref!r} must be the school's opaque reference (3-32 letters, digits,"
        " '-', '_' or '/', with at least one digit), never the pupil's name"
    )


def can_authorise(principal: Principal, school: str) -> str | None:
    """Home visits are authorised by the headteacher or the DSL of that school."""
    if principal.role not in AUTHORISERS:
        return (
            f"a {principal.role.value} cannot authorise home visits: ask the headteacher "
            "or the designated safeguarding lead (DSL)"
        )
    if principal.school != school:
        return "only the headteacher or DSL of the visit's own school can authorise it"
    return None


def needs_headteacher(
    start: datetime, end: datetime, *, working_hours: str, timezone: str
) -> str | None:
    """Why a headteacher must expressly approve this visit, or None.

    A visit outside the school's working hours (or on a weekend), or in the evening
    (from 18:00), needs the headteacher's express agreement.
    """
    zone = ZoneInfo(timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    opens_text, _, closes_text = working_hours.partition("-")
    opens, closes = time.fromisoformat(opens_text), time.fromisoformat(closes_text)
    if local_start.date() != local_end.date() or local_start.weekday() >= 5:
        return "it is not within one working day"
    if local_end.time() > EVENING_FROM:
        return "it is an evening visit"
    if local_start.time() < opens or local_end.time() > closes:
        return f"it falls outside the school's working hours ({working_hours})"
    return None


def device_problem(
    *,
    device: str | None,
    last_seen: datetime | None,
    battery: int | None,
    now: datetime,
    offline_after: timedelta,
    low_battery_below: int,
) -> str | None:
    """A lone visitor takes an SOS device that is operational: seen within the heartbeat
    window and above the low-battery threshold (a device that never reports battery passes
    on being seen)."""
    if device is None:
        return (
            "a lone visit needs an SOS device assigned to the visitor: collect one from reception"
        )
    if last_seen is None or now - last_seen > offline_after:
        return (
            f"SOS device {device} has not been heard from in the last "
            f"{int(offline_after.total_seconds())}s: switch it on and check it in before leaving"
        )
    if battery is not None and battery < low_battery_below:
        return f"SOS device {device} battery is {battery}% (below {low_battery_below}%): charge or swap it"
    return None


@dataclass(frozen=True)
class DeviceCheck:
    """The device a lone visitor takes, as last heard from (evidence recorded at departure)."""

    device: str | None
    last_seen: datetime | None
    battery: int | None


@dataclass(frozen=True)
class OverduePolicy:
    """The school's overdue and heartbeat policy, copied into the departure event so the
    deadlines of this visit never change under it."""

    grace: timedelta
    steps: tuple[tuple[int, str], ...]  # (seconds after noticing, action)
    offline_after: timedelta
    low_battery_below: int

    @classmethod
    def from_school(cls, policy: dict[str, Any]) -> OverduePolicy:
        overdue = policy.get("overdue") or {}
        steps = overdue.get("steps") or [
            {"after": 0, "do": "contact_staff"},
            {"after": 600, "do": "reception_calls_home"},
            {"after": 1200, "do": "inform_slt"},
        ]
        return cls(
            grace=timedelta(seconds=int(overdue.get("grace", 600))),
            steps=tuple((int(s["after"]), str(s["do"])) for s in steps),
            offline_after=timedelta(
                seconds=int((policy.get("heartbeat") or {}).get("offline_after", 180))
            ),
            low_battery_below=int(policy.get("low_battery_below", 20)),
        )


def _hazard_rows(hazards: list[dict[str, Any]], purpose: Purpose) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[Hazard] = set()
    for i, raw in enumerate(hazards):
        where = f"hazards[{i}]"
        try:
            hazard = Hazard(str(raw.get("hazard")))
            likelihood = Likelihood(str(raw.get("likelihood")))
            severity = HarmSeverity(str(raw.get("severity")))
            risk = RiskLevel(str(raw.get("risk")))
        except ValueError as exc:
            raise DomainError(
                f"{where}: {exc}; hazards are {', '.join(Hazard)}, likelihood "
                f"{'/'.join(Likelihood)}, severity {'/'.join(HarmSeverity)}, risk {'/'.join(RiskLevel)}"
            ) from None
        controls = [str(c).strip() for c in raw.get("controls") or [] if str(c).strip()]
        if not controls:
            raise DomainError(f"{where} ({hazard.value}): list the controls that reduce the risk")
        if hazard in seen:
            raise DomainError(f"{where}: {hazard.value} is assessed twice")
        seen.add(hazard)
        rows.append(
            {
                "hazard": hazard.value,
                "likelihood": likelihood.value,
                "severity": severity.value,
                "risk": risk.value,
                "controls": controls,
            }
        )
    needed = set(ALWAYS_ASSESSED)
    if purpose is Purpose.TRANSPORT_PUPIL:
        needed.add(Hazard.TRANSPORTING_PUPIL)
    missing = [h.value for h in Hazard if h in needed - seen]
    if missing:
        raise DomainError(f"the risk assessment must also assess: {', '.join(missing)}")
    return rows


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
        self.no_answer = False
        self.report: dict[str, Any] | None = None
        self.ladder_steps: list[dict[str, Any]] = []
        self.departed_at: datetime | None = None

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
        self._risk_assessed(hazards=_hazard_rows(hazards, self.purpose), by=by, timestamp=timestamp)

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

    def take_step(self, index: int, *, timestamp: datetime) -> str:
        """Record that step `index` of the ladder is being taken; returns its action."""
        if index not in self.due_steps(timestamp):
            raise DomainError(f"overdue step {index + 1} is not due (or was already taken)")
        action = str(self.ladder_steps[index]["do"])
        self._ladder_step_taken(
            episode=self.overdue_episode, step=index, action=action, timestamp=timestamp
        )
        return action

    @event("LadderStepTaken")
    def _ladder_step_taken(self, episode: int, step: int, action: str, timestamp: datetime) -> None:
        self.steps_taken.append(step)

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
