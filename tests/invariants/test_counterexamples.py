"""The shortest sequences the invariant machines found failing on fd38cab, replayed step by
step on every run (docs/invariants.md, "Counterexamples found"), with what a person would
see at the boundary: who the notifier was asked to tell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from tests.invariants.alarm_machine import AlarmMachine
from tests.invariants.visit_machine import VISITOR_PHONE, VisitMachine

DESK, DSL, HEAD, SLT = "+441702000010", "+441702000011", "+441702000012", "+441702000013"


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
def alarm() -> Iterator[AlarmMachine]:
    machine = AlarmMachine()
    yield machine
    machine.teardown()


def told(machine: AlarmMachine | VisitMachine) -> set[str]:
    return {s.to for s in machine.svc.notifier.sends if s.provider_id is not None}


@pytest.mark.parametrize(
    ("how", "tries"),
    [("refuses", 1), ("fails_a_while", 4)],
    ids=["refused for good", "failing every try"],
)
def test_a_tier_one_text_that_cannot_go_does_not_stop_the_ladder(
    alarm: AlarmMachine, how: str, tries: int
) -> None:
    """Policy (fixture): tiers [[contact_centre], [dsl], [headteacher, slt]], 60 s apart."""
    alarm.number_answers(to=DESK, channel="sms", how=how, tries=tries)
    alarm.press(device="sos-0001", kind="sos")
    alarm.invariants_hold()
    for _ in range(3):
        alarm.time_passes(seconds=60)
        alarm.invariants_hold()
    assert {DSL, HEAD, SLT} <= told(alarm)


def test_the_leave_prompt_is_sent() -> None:
    """Not left the property on time: the visitor is asked to reply OK."""
    visit = VisitMachine()
    try:
        visit.the_first_visit_departs(back_in=5, own_word=False)
        visit.time_passes(seconds=900)
        visit.invariants_hold()
        prompts = [s for s in visit.svc.notifier.sends if "expected to have left" in s.body]
        assert [(s.to, s.provider_id is not None) for s in prompts] == [("+447700900001", True)]
    finally:
        visit.teardown()


def test_the_visits_own_safe_word_in_the_app_raises_duress() -> None:
    """The visit's safe word counts on every channel (issue 10), not only by text."""
    visit = VisitMachine()
    try:
        visit.the_first_visit_departs(back_in=5, own_word=True)
        visit.visitor_uses_a_safe_word(word="visit", channel="app")
        visit.invariants_hold()
        assert VISITOR_PHONE not in told(visit)
    finally:
        visit.teardown()
