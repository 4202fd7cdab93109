"""The home-visit policies' rules, on the Visit aggregate alone: no I/O, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.domain.errors import DomainError, InvalidTransition
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.overdue_ladder import (
    CallHomeReport,
    OverduePolicy,
    SltDecision,
    call_home_task,
    slt_decision,
)
from service.domain.visits.rules import (
    CallHomeOutcome,
    DeviceCheck,
    can_authorise,
    device_problem,
    needs_headteacher,
    pupil_ref_problem,
)
from service.domain.visits.states import VisitState
from service.domain.visits.tasks import TaskState, concern_task
from service.domain.visits.visit import Visit
from service.domain.visits.whereabouts import Whereabouts

NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; London is on UTC
POLICY = OverduePolicy.from_school(
    {
        "overdue": {
            "grace": 600,
            "steps": [
                {"after": 0, "do": "contact_staff"},
                {"after": 600, "do": "reception_calls_home"},
                {"after": 1200, "do": "inform_slt"},
            ],
        },
        "heartbeat": {"expect_every": 60, "offline_after": 180},
        "low_battery_below": 20,
    }
)
HEAD = Principal("head1", "lancaster", Role.HEADTEACHER)
DSL = Principal("dsl1", "lancaster", Role.DSL)
FIT_DEVICE = DeviceCheck(device="sos-0001", last_seen=NINE, battery=80)


def hazard(name: str, risk: str = "low") -> dict[str, Any]:
    return {
        "hazard": name,
        "likelihood": "remote",
        "severity": "major",
        "risk": risk,
        "controls": ["Inform reception and sign out so others are aware"],
    }


APPENDIX = [
    hazard(h)
    for h in ("aggressive_person", "animals", "driving", "public_areas", "illness_or_injury")
]


def a_visit(staff: tuple[str, ...] = ("s-jones",), start: datetime = NINE, **changes: Any) -> Visit:
    values: dict[str, Any] = {
        "ref": "v1",
        "school": "lancaster",
        "staff": list(staff),
        "pupil_ref": "UPN-0042",
        "address": "12 Mountdale Gardens",
        "purpose": "safe_and_well",
        "planned_start": start,
        "expected_leave": start + timedelta(minutes=45),
        "expected_return": start + timedelta(hours=1),
        "doorstep": False,
        "mobile": "+447700900001",
        "safe_word_hash": "1$hashed",
        "planned_by": "dsl:dsl1",
        "timestamp": NINE - timedelta(hours=1),
    }
    values.update(changes)
    return Visit.plan(**values)


def authorised(visit: Visit) -> Visit:
    visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
    visit.authorise(
        principal=HEAD, working_hours="08:00-18:00", timezone="Europe/London", timestamp=NINE
    )
    return visit


def out(visit: Visit) -> Visit:
    authorised(visit).depart(by="staff:s-jones", device=FIT_DEVICE, policy=POLICY, timestamp=NINE)
    return visit


def authorise_as(visit: Visit, who: Principal) -> None:
    visit.authorise(
        principal=who, working_hours="08:00-18:00", timezone="Europe/London", timestamp=NINE
    )


# -- planning -----------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["Tom Smith", "tom", "Jo", ""])
def test_a_pupil_is_named_only_by_an_opaque_reference_never_by_name(ref: str) -> None:
    """'never a pupil's name in events': a reference needs a digit and no spaces."""
    assert pupil_ref_problem(ref) is not None
    with pytest.raises(DomainError, match="never the pupil's name"):
        a_visit(pupil_ref=ref)
    assert pupil_ref_problem("UPN-0042") is None


def test_a_visit_is_made_by_one_staff_member_or_a_pair() -> None:
    assert a_visit().lone
    assert not a_visit(("s-jones", "p-patel")).lone
    with pytest.raises(DomainError, match="one staff member"):
        a_visit(("a", "b", "c"))


def test_every_visit_has_a_safe_word() -> None:
    """'Always make sure that the school knows where you are going, has your mobile telephone
    number and your safe word is recorded'."""
    with pytest.raises(DomainError, match="needs a safe word"):
        a_visit(safe_word_hash=None)
    with pytest.raises(DomainError, match="international number"):
        a_visit(mobile="07700 900001")


def test_times_must_run_from_start_to_leaving_to_return() -> None:
    with pytest.raises(DomainError, match="planned start"):
        a_visit(expected_leave=NINE + timedelta(hours=2))


def test_every_purpose_the_policies_list_can_be_planned_and_no_other() -> None:
    for purpose in ("procedural", "attendance", "transition", "transport_pupil", "other"):
        assert a_visit(purpose=purpose).purpose == purpose
    with pytest.raises(DomainError, match="purpose must be one of"):
        a_visit(purpose="shopping")


# -- risk assessment and authorisation -------------------------------------------------


def test_a_visit_cannot_be_authorised_without_a_risk_assessment() -> None:
    """'All home visits conducted by staff MUST be authorised prior to the visit taking
    place' after the risk assessment (appendix A)."""
    with pytest.raises(DomainError, match="risk assessed before"):
        authorise_as(a_visit(), HEAD)


def test_the_risk_assessment_covers_the_appendix_hazards_each_with_controls() -> None:
    visit = a_visit()
    with pytest.raises(DomainError, match="must also assess: animals"):
        visit.assess_risk(hazards=[hazard("aggressive_person")], by="dsl:dsl1", timestamp=NINE)
    no_controls = [*APPENDIX[:-1], {**hazard("illness_or_injury"), "controls": []}]
    with pytest.raises(DomainError, match="list the controls"):
        visit.assess_risk(hazards=no_controls, by="dsl:dsl1", timestamp=NINE)
    with pytest.raises(DomainError, match="likelihood"):
        visit.assess_risk(
            hazards=[*APPENDIX[:-1], {**hazard("illness_or_injury"), "likelihood": "meh"}],
            by="dsl:dsl1",
            timestamp=NINE,
        )


def test_transporting_a_pupil_must_be_assessed_when_the_visit_transports_one() -> None:
    visit = a_visit(purpose="transport_pupil")
    with pytest.raises(DomainError, match="transporting_pupil"):
        visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
    visit.assess_risk(
        hazards=[*APPENDIX, hazard("transporting_pupil")], by="dsl:dsl1", timestamp=NINE
    )


def test_a_visit_rated_high_risk_is_not_allowed() -> None:
    """Senior staff are responsible for 'not allowing any visits which place staff at risk'."""
    visit = a_visit()
    visit.assess_risk(
        hazards=[*APPENDIX[1:], hazard("aggressive_person", "high")], by="dsl:dsl1", timestamp=NINE
    )
    with pytest.raises(DomainError, match="aggressive_person high"):
        authorise_as(visit, HEAD)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (HEAD, True),
        (DSL, True),
        (Principal("reception1", "lancaster", Role.OPERATOR), False),
        (Principal("s-jones", "lancaster", Role.STAFF), False),
        (Principal("admin", None, Role.ADMIN), False),
        (Principal("kdsl", "kingsdown", Role.DSL), False),
    ],
)
def test_only_the_headteacher_or_dsl_of_the_school_authorises(
    who: Principal, allowed: bool
) -> None:
    """'Authorising any home visits, along with the designated safeguarding lead (DSL)'."""
    assert (can_authorise(who, "lancaster") is None) is allowed
    visit = a_visit()
    visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
    if allowed:
        authorise_as(visit, who)
        assert visit.state is VisitState.AUTHORISED
    else:
        with pytest.raises(DomainError, match=r"headteacher|DSL"):
            authorise_as(visit, who)


@pytest.mark.parametrize(
    ("start", "hours", "reason"),
    [
        (NINE, 1, None),
        (NINE.replace(hour=7), 1, "outside the school's working hours"),
        (NINE.replace(hour=17, minute=30), 1, "it is an evening visit"),
        (NINE.replace(day=28), 1, "not within one working day"),  # a Saturday
    ],
)
def test_visits_outside_working_hours_need_the_headteacher(
    start: datetime, hours: int, reason: str | None
) -> None:
    """'Visits should take place during regular working hours unless approved for
    exceptional circumstances.'"""
    found = needs_headteacher(
        start, start + timedelta(hours=hours), working_hours="08:00-18:00", timezone="Europe/London"
    )
    assert found == reason or (reason is not None and found is not None and reason in found)


def test_an_evening_visit_needs_the_headteachers_express_agreement() -> None:
    """'Do not make an evening home visit unless expressly agreed with the Headteacher.'"""
    evening = NINE.replace(hour=17, minute=45)
    assert needs_headteacher(
        evening, evening + timedelta(minutes=30), working_hours="08:00-20:00", timezone="UTC"
    ) == ("it is an evening visit")
    visit = a_visit(start=evening)
    visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
    with pytest.raises(DomainError, match="headteacher's express approval"):
        authorise_as(visit, DSL)
    authorise_as(visit, HEAD)
    assert visit.state is VisitState.AUTHORISED


# -- the SOS device ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        (DeviceCheck(None, None, None), "needs an SOS device"),
        (DeviceCheck("sos-0001", None, None), "not been heard from"),
        (DeviceCheck("sos-0001", NINE - timedelta(seconds=181), 80), "not been heard from"),
        (DeviceCheck("sos-0001", NINE, 19), "battery is 19%"),
    ],
)
def test_a_lone_visitor_signs_out_only_with_an_operational_sos_device(
    check: DeviceCheck, problem: str
) -> None:
    """'Where you are lone working, ensure that you collect the SOS device from reception,
    ensure that it is operational and taken on the visit.'"""
    visit = authorised(a_visit())
    with pytest.raises(DomainError, match=problem):
        visit.depart(by="staff:s-jones", device=check, policy=POLICY, timestamp=NINE)
    visit.depart(by="staff:s-jones", device=FIT_DEVICE, policy=POLICY, timestamp=NINE)
    assert visit.device == "sos-0001"


def test_a_device_that_never_reports_its_battery_passes_on_being_heard_from() -> None:
    kwargs: dict[str, Any] = {
        "now": NINE,
        "offline_after": timedelta(seconds=180),
        "low_battery_below": 20,
    }
    assert device_problem(device="fob", last_seen=NINE, battery=None, **kwargs) is None
    assert device_problem(device="fob", last_seen=NINE, battery=20, **kwargs) is None


def test_a_pair_needs_no_sos_device() -> None:
    visit = authorised(a_visit(("s-jones", "p-patel")))
    visit.depart(
        by="staff:s-jones", device=DeviceCheck(None, None, None), policy=POLICY, timestamp=NINE
    )
    assert visit.state is VisitState.DEPARTED and visit.device is None


# -- the visit, in order ------------------------------------------------------------------


def test_events_out_of_order_are_refused_with_a_clear_message() -> None:
    visit = a_visit()
    with pytest.raises(InvalidTransition, match="cannot record arriving at this visit: it has not"):
        visit.arrive(by="x", via="api", timestamp=NINE)
    out(visit)
    with pytest.raises(InvalidTransition, match="cannot report this visit"):
        visit.report_outcome(
            by="x", outcome="completed", notes="n", safeguarding_concern=False, timestamp=NINE
        )
    with pytest.raises(InvalidTransition, match="cannot cancel"):
        visit.cancel(by="x", reason="r", timestamp=NINE)
    visit.return_(by="x", via="api", timestamp=NINE)
    with pytest.raises(InvalidTransition, match="already signed back in"):
        visit.return_(by="x", via="api", timestamp=NINE)


def test_a_visit_runs_from_sign_out_to_close() -> None:
    visit = out(a_visit())
    for step in (visit.arrive, visit.leave, visit.return_):
        step(by="staff:s-jones", via="api", timestamp=NINE)
    visit.report_outcome(
        by="staff:s-jones",
        outcome="completed",
        notes="Parent engaged.",
        safeguarding_concern=False,
        timestamp=NINE,
    )
    visit.close(by="dsl:dsl1", timestamp=NINE)
    assert visit.state is VisitState.CLOSED


def test_no_answer_leaves_a_sorry_we_missed_you_and_the_visitor_leaves() -> None:
    """'If there is no response from the property, leave a ('sorry we missed you') letter'."""
    visit = out(a_visit())
    visit.record_no_answer(by="staff:s-jones", via="api", timestamp=NINE)
    assert visit.state is VisitState.LEFT and visit.no_answer


def test_a_visit_is_cancelled_only_before_sign_out_and_with_a_reason() -> None:
    visit = a_visit()
    with pytest.raises(DomainError, match="say why"):
        visit.cancel(by="x", reason=" ", timestamp=NINE)
    visit.cancel(by="x", reason="family moved", timestamp=NINE)
    assert visit.state is VisitState.CANCELLED


def test_an_extension_needs_a_reason_and_moves_the_deadlines() -> None:
    """'Phone in if plan changes.'"""
    visit = out(a_visit())
    with pytest.raises(DomainError, match="say why"):
        visit.extend(by="x", reason="", expected_leave=None, expected_return=NINE, timestamp=NINE)
    later = NINE + timedelta(hours=2)
    visit.extend(
        by="staff:s-jones",
        reason="parent arrived late",
        expected_leave=later - timedelta(minutes=15),
        expected_return=later,
        timestamp=NINE,
    )
    assert visit.return_deadline == later + timedelta(minutes=10)


# -- the overdue ladder -------------------------------------------------------------------


def test_the_ladder_takes_the_schools_steps_in_order_as_they_fall_due() -> None:
    """'If the designated staff do not return to school at the agreed expected time of
    return, the member of staff will be contacted ... Reception staff will attempt to
    contact the Pupil's home ... a member of SLT will be informed'."""
    visit = out(a_visit())
    due = visit.return_deadline
    assert due == NINE + timedelta(hours=1, minutes=10)
    with pytest.raises(DomainError, match="not overdue yet"):
        visit.notice_overdue(timestamp=due - timedelta(seconds=1))
    visit.notice_overdue(timestamp=due)
    assert visit.due_steps(due) == [0]
    assert visit.take_step(0, timestamp=due) == "contact_staff"
    assert visit.due_steps(due + timedelta(minutes=9)) == []
    assert visit.due_steps(due + timedelta(minutes=25)) == [1, 2]
    with pytest.raises(DomainError, match="already running"):
        visit.notice_overdue(timestamp=due)


def test_an_ok_at_any_step_ends_the_ladder_and_says_who_and_how() -> None:
    visit = out(a_visit())
    due = visit.return_deadline
    assert due is not None
    visit.notice_overdue(timestamp=due)
    visit.take_step(0, timestamp=due)
    visit.check_in(by="staff:s-jones", via="text OK", timestamp=due + timedelta(minutes=12))
    assert not visit.ladder_active and visit.ladder_ended_how == "text OK"
    # Still out: a new deadline, a grace period on.
    assert visit.return_deadline == due + timedelta(minutes=22)


def test_not_leaving_on_time_is_noticed_once() -> None:
    """'Let the school know immediately that they have left the property'."""
    visit = out(a_visit())
    deadline = NINE + timedelta(minutes=55)
    with pytest.raises(DomainError, match="has not passed"):
        visit.notice_leave_overdue(timestamp=deadline - timedelta(seconds=1))
    visit.notice_leave_overdue(timestamp=deadline)
    with pytest.raises(DomainError, match="already asked"):
        visit.notice_leave_overdue(timestamp=deadline)


def test_a_silent_device_is_noticed_once_per_silence() -> None:
    visit = out(a_visit())
    with pytest.raises(DomainError, match="within the heartbeat window"):
        visit.notice_device_silence(last_seen=NINE, timestamp=NINE + timedelta(seconds=60))
    visit.notice_device_silence(last_seen=NINE, timestamp=NINE + timedelta(seconds=180))
    with pytest.raises(DomainError, match="already noticed"):
        visit.notice_device_silence(last_seen=NINE, timestamp=NINE + timedelta(seconds=240))


def test_a_visitor_is_signed_out_on_one_visit_at_a_time() -> None:
    """'On leaving the school site staff should sign out at Reception giving full details of
    destination and expected time of return': one destination at a time."""
    first, second = a_visit(ref="first"), a_visit(ref="second")
    book = Whereabouts(staff="s-jones", timestamp=NINE)
    book.sign_out(first.id, NINE)
    with pytest.raises(InvalidTransition, match="sign back in first"):
        book.sign_out(second.id, NINE)
    book.sign_in(first.id, NINE)
    book.sign_out(second.id, NINE)
    assert book.visit == second.id


# -- reception's call home decides whether SLT are told ---------------------------------


def at_the_slt_step(outcome: str | None, *, done: bool = True) -> tuple[Visit, str | None]:
    """A lone visit overdue up to step 3, reception's call home done (or not) before it."""
    visit = out(a_visit())
    due = visit.return_deadline
    assert due is not None
    visit.notice_overdue(timestamp=due)
    visit.take_step(0, timestamp=due)
    visit.take_step(1, timestamp=due + timedelta(minutes=10))
    if done:
        visit.complete_task(
            call_home_task(visit.id, 1),
            by="operator:reception1",
            note="",
            outcome=outcome,
            timestamp=due + timedelta(minutes=14),
        )
    return visit, visit.take_step(2, timestamp=due + timedelta(minutes=20))


def test_slt_are_not_told_once_reception_reached_the_home_and_found_no_concern() -> None:
    """'If contact has not been made or there is any cause for concern, a member of SLT will
    be informed.' (policy 003)"""
    visit, action = at_the_slt_step("contact_made_no_concern")
    assert action is None
    assert visit.steps_taken == [0, 1, 2], "the step is taken (recorded), not left due"
    assert visit.ladder.next_due() is None


@pytest.mark.parametrize("outcome", ["no_contact", "concern", None])
def test_slt_are_told_unless_reception_reported_contact_without_concern(
    outcome: str | None,
) -> None:
    """'If contact has not been made or there is any cause for concern, a member of SLT will
    be informed.' (policy 003) A call marked done without saying is no contact."""
    assert at_the_slt_step(outcome)[1] == "inform_slt"


def test_slt_are_told_when_reception_has_not_reported_by_then() -> None:
    """No word from reception is no contact: the ladder never waits on a silence."""
    assert at_the_slt_step(None, done=False)[1] == "inform_slt"


def test_the_slt_decision_names_why_and_whose_report_it_rests_on() -> None:
    held = slt_decision(
        CallHomeReport(CallHomeOutcome.CONTACT_MADE_NO_CONCERN, "operator:reception1", NINE)
    )
    assert held.as_event_data() == {
        "inform": False,
        "because": "reception reached the home and found no cause for concern",
        "reported_by": "operator:reception1",
        "reported_at": NINE.isoformat(),
    }
    assert slt_decision(None) == SltDecision(
        True, "reception had not reported reaching the pupil's home by then"
    )
    concern = slt_decision(CallHomeReport(CallHomeOutcome.CONCERN, "dsl:dsl1", NINE))
    assert (concern.inform, concern.because) == (True, "reception reported a cause for concern")


def test_an_outcome_is_one_of_the_choices_and_only_for_the_call_home() -> None:
    visit, _ = at_the_slt_step(None, done=False)
    task = call_home_task(visit.id, 1)
    later = NINE + timedelta(hours=2)
    with pytest.raises(DomainError, match="outcome must be one of"):
        visit.complete_task(task, by="operator:r", note="", outcome="fine", timestamp=later)
    visit.tasks[concern_task(visit.id)] = {"state": TaskState.OPEN}
    with pytest.raises(DomainError, match="only for reception's call"):
        visit.complete_task(
            concern_task(visit.id), by="dsl:d", note="", outcome="concern", timestamp=later
        )


def test_a_low_battery_is_noticed_once_per_lone_visit_and_only_below_the_threshold() -> None:
    """'ensure that you collect the SOS device from reception, ensure that it is operational
    and taken on the visit' (policy 001); 'low_battery_below: 20' means under 20."""
    visit = out(a_visit())
    with pytest.raises(DomainError, match="not below the school's 20%"):
        visit.notice_low_battery(battery=20, timestamp=NINE)
    visit.notice_low_battery(battery=19, timestamp=NINE + timedelta(minutes=5))
    assert visit.low_battery == {"battery": 19, "below": 20, "at": NINE + timedelta(minutes=5)}
    with pytest.raises(DomainError, match="already noticed on this visit"):
        visit.notice_low_battery(battery=5, timestamp=NINE + timedelta(minutes=6))


def test_only_a_lone_visit_out_has_its_battery_watched() -> None:
    with pytest.raises(InvalidTransition, match="cannot watch the device"):
        authorised(a_visit()).notice_low_battery(battery=5, timestamp=NINE)
    pair = out(a_visit(staff=("s-jones", "p-patel")))
    with pytest.raises(DomainError, match="only a lone visit's SOS device"):
        pair.notice_low_battery(battery=5, timestamp=NINE)


def test_the_events_of_the_visits_parts_are_stored_under_the_visits_own_names() -> None:
    """The watch's and the tasks' events are `Visit.<Event>` in visit.py, as stored since the
    start: a part's event the Visit body forgot to list would be stored under a new topic."""
    from eventsourcing.domain import Aggregate
    from eventsourcing.utils import get_topic

    from service.domain.visits import tasks, watch

    for module in (watch, tasks):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                if value.__module__ != module.__name__:
                    continue
                own = getattr(Visit, name)
                assert get_topic(own) == f"service.domain.visits.visit:Visit.{name}"
                assert issubclass(own, value) and issubclass(own, Visit.Event)
