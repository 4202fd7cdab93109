"""The overdue ladder as plain functions: decide(state, command, now) -> facts, evolve.

"If the designated staff do not return to school at the agreed expected time of return,
the member of staff will be contacted on the mobile phone. If contact is not possible,
Reception staff will attempt to contact the Pupil's home. If contact has not been made or
there is any cause for concern, a member of SLT will be informed." (William Lilley)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import DomainError
from service.domain.visits.overdue_ladder import (
    DEFAULT_STEPS,
    Action,
    CallHomeReport,
    End,
    Ended,
    Fact,
    LadderState,
    Notice,
    OverduePolicy,
    PlannedStep,
    Started,
    StepTaken,
    Take,
    call_home_task,
    decide,
    evolve,
    steps_of,
    task_opened,
)
from service.domain.visits.rules import CallHomeOutcome

DEADLINE = datetime(2026, 11, 23, 10, 10, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def apply(state: LadderState, facts: list[Fact]) -> LadderState:
    return reduce(evolve, facts, state)


def overdue(steps: tuple[PlannedStep, ...] = DEFAULT_STEPS) -> LadderState:
    return apply(LadderState(), decide(LadderState(), Notice(DEADLINE, steps), DEADLINE))


def minutes(n: float) -> datetime:
    return DEADLINE + timedelta(minutes=n)


def test_the_steps_keep_the_values_stored_events_and_directory_files_name() -> None:
    assert [a.value for a in Action] == ["contact_staff", "reception_calls_home", "inform_slt"]
    assert OverduePolicy.from_school({}).steps == DEFAULT_STEPS
    assert [(s.after, s.action) for s in DEFAULT_STEPS] == [
        (0, Action.CALL_VISITOR),
        (600, Action.RECEPTION_CALLS_HOME),
        (1200, Action.INFORM_SLT),
    ]


def test_the_policy_copy_at_departure_reads_back_as_the_schools_ladder() -> None:
    policy = OverduePolicy.from_school(
        {"overdue": {"grace": 300, "steps": [{"after": 60, "do": "inform_slt"}]}}
    )
    copy = policy.as_event_data()
    assert copy["steps"] == [{"after": 60, "do": "inform_slt"}] and copy["grace"] == 300
    assert steps_of(copy) == (PlannedStep(60, Action.INFORM_SLT),)
    assert steps_of({}) == ()


def test_the_ladder_starts_only_once_the_deadline_has_passed_and_only_once() -> None:
    with pytest.raises(DomainError, match="not overdue yet"):
        decide(LadderState(), Notice(DEADLINE, DEFAULT_STEPS), minutes(-0.1))
    with pytest.raises(DomainError, match="not overdue yet"):
        decide(LadderState(), Notice(None, DEFAULT_STEPS), minutes(5))
    state = overdue()
    assert state.active and state.episode == 1 and state.next_due() == DEADLINE
    with pytest.raises(DomainError, match="already running"):
        decide(state, Notice(DEADLINE, DEFAULT_STEPS), minutes(1))


def test_steps_fall_due_in_the_schools_order_and_a_late_tick_takes_all_that_are_due() -> None:
    state = overdue()
    first = decide(state, Take(), DEADLINE)
    assert [(f.index, f.action) for f in first if isinstance(f, StepTaken)] == [
        (0, Action.CALL_VISITOR)
    ]
    state = apply(state, first)
    assert decide(state, Take(), minutes(9)) == []
    assert state.next_due() == minutes(10)
    late = decide(state, Take(), minutes(25))
    assert [f.action for f in late if isinstance(f, StepTaken)] == [
        Action.RECEPTION_CALLS_HOME,
        Action.INFORM_SLT,
    ]
    assert apply(state, late).next_due() is None


def test_a_step_named_must_be_due() -> None:
    with pytest.raises(DomainError, match="overdue step 2 is not due"):
        decide(overdue(), Take(index=1), minutes(5))


def test_slt_are_not_told_once_reception_reached_the_home_and_found_no_concern() -> None:
    """'If contact has not been made or there is any cause for concern, a member of SLT will
    be informed.'"""
    state = apply(overdue(), decide(overdue(), Take(), minutes(10)))
    fine = CallHomeReport(CallHomeOutcome.CONTACT_MADE_NO_CONCERN, "operator:r", minutes(14))
    [held] = decide(state, Take(call_home=fine), minutes(20))
    assert isinstance(held, StepTaken) and held.carried_out is None
    assert held.decision is not None and not held.decision.inform
    worried = CallHomeReport(CallHomeOutcome.CONCERN, "operator:r", minutes(14))
    [told] = decide(state, Take(call_home=worried), minutes(20))
    assert isinstance(told, StepTaken) and told.carried_out is Action.INFORM_SLT


def test_the_reception_step_gives_reception_its_call_home_task() -> None:
    visit = uuid4()
    assert task_opened(visit, 2, Action.RECEPTION_CALLS_HOME) == call_home_task(visit, 2)
    assert task_opened(visit, 2, Action.INFORM_SLT) is None
    assert call_home_task(visit, 2) == f"visit-call-home:{visit}:2"


def test_contact_ends_the_ladder_and_the_return_is_checked_a_grace_period_on() -> None:
    state = apply(overdue(), decide(overdue(), Take(), DEADLINE))
    [ended] = decide(state, End("staff:s", "text OK", DEADLINE, GRACE), minutes(12))
    assert isinstance(ended, Ended)
    assert (ended.steps_taken, ended.next_deadline) == (1, minutes(22))
    after = evolve(state, ended)
    assert not after.active and after.ended_how == "text OK" and after.next_due() is None
    assert decide(after, Take(), minutes(60)) == []
    assert decide(after, End("x", "again", None, GRACE), minutes(60)) == []
    again = apply(after, decide(after, Notice(minutes(22), DEFAULT_STEPS), minutes(22)))
    assert again.episode == 2 and again.taken == ()


# -- a property: whatever the times, the ladder keeps its order ----------------------------

LADDERS = st.lists(
    st.builds(PlannedStep, st.integers(0, 3600), st.sampled_from(list(Action))),
    min_size=0,
    max_size=5,
).map(lambda steps: tuple(sorted(steps, key=lambda s: s.after)))
EVENTS = st.lists(
    st.tuples(st.integers(0, 1800), st.sampled_from(["take", "take", "take", "back"])),
    max_size=12,
)


@given(steps=LADDERS, events=EVENTS)
def test_steps_fire_in_order_each_once_when_due_and_never_after_the_visitor_is_back(
    steps: tuple[PlannedStep, ...], events: list[tuple[int, str]]
) -> None:
    state = overdue(steps)
    now, last_look = DEADLINE, None
    taken: list[int] = []
    back = False
    for gap, what in events:
        now += timedelta(seconds=gap)
        command = Take() if what == "take" else End("staff:s", "back", DEADLINE, GRACE)
        facts = decide(state, command, now)
        for fact in facts:
            assert not isinstance(fact, Started)
            if isinstance(fact, StepTaken):
                assert not back, "a step taken after the visitor was back"
                assert fact.at >= DEADLINE + timedelta(seconds=steps[fact.index].after)
                taken.append(fact.index)
            elif isinstance(fact, Ended):
                back = True
        if what == "take" and not back:
            last_look = now
        state = apply(state, facts)
    assert len(taken) == len(set(taken)), f"a step taken twice: {taken}"
    assert taken == sorted(taken), f"steps out of the school's order: {taken}"
    if last_look is not None:
        due = {i for i, s in enumerate(steps) if DEADLINE + timedelta(seconds=s.after) <= last_look}
        assert set(taken) == due, "a step due at the last look was not taken by it"
