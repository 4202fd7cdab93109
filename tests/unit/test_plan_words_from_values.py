"""An escalation step is worded from the values it is recorded with, not by rewriting its
reason: new steps and the messages they request carry the step as values (`plan`) beside
the reason; the record words those in one place (narrative.step_plan_words). Steps stored
before carry none and are worded from their reason as before; for every step the ladder
takes, both read the same, so an old record and a new one say a step alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from types import SimpleNamespace
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.adapters.directory_file import load_directory
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import first_notifications, request_notification
from service.domain.alerts.ladder import (
    EscalationState,
    Messages,
    Start,
    Tick,
    decide,
    evolve,
    step_data,
    step_from_data,
)
from service.records.narrative import Narrator, plan_words, step_plan_words
from tests.worlds import DIRECTORY

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WORDS = Messages(sms="text", say="words")
KINDS = [AlertKind.SOS, AlertKind.DURESS, AlertKind.FALL, AlertKind.CONCERN, AlertKind.LOW_BATTERY]


def a_school(without: frozenset[str]) -> dict[str, Any]:
    """Lancaster, less the contacts of the roles in `without` (a tier nobody can be told
    is passed at once: 'not waiting')."""
    school = load_directory(DIRECTORY).schools[0].as_event_data()
    school["contacts"] = [c for c in school["contacts"] if c.get("role") not in without]
    return school


def ladder(kind: AlertKind, school: dict[str, Any], ticks: list[int]) -> list[Any]:
    state = EscalationState(raised_at=T0)
    steps: list[Any] = []
    commands: list[tuple[Any, datetime]] = [(Start(kind, T0, school, WORDS), T0)]
    commands += [(Tick(school, WORDS), T0 + timedelta(seconds=s)) for s in sorted(ticks)]
    for command, now in commands:
        decided = decide(state, command, now, kind)
        steps += decided
        state = reduce(evolve, decided, state)
    return steps


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    without=st.frozensets(st.sampled_from(["dsl", "headteacher", "slt"])),
    ticks=st.lists(st.integers(min_value=0, max_value=1800), max_size=30),
)
@example(kind=AlertKind.SOS, without=frozenset(), ticks=list(range(0, 1800, 60)))  # held back
@example(kind=AlertKind.FALL, without=frozenset({"dsl"}), ticks=[60, 120])  # not waiting
def test_every_step_reads_the_same_from_its_values_as_from_its_reason(
    kind: AlertKind, without: frozenset[str], ticks: list[int]
) -> None:
    school = a_school(without)
    for step in ladder(kind, school, ticks):
        recorded = step_from_data(step_data(step))  # as stored and read back
        if step.step in ("tier1",) or step.step.startswith(("tier", "renotify")):
            assert recorded.plan is not None, step
        assert step_plan_words(step.reason, recorded.plan, kind) == plan_words(step.reason, kind)
        for planned in step.notify:
            assert planned.plan is not None
            said = step_plan_words(planned.reason, planned.plan, kind)
            assert said == plan_words(planned.reason, kind)
    for planned in first_notifications(kind=kind, school=school, body="x"):
        assert planned.plan is not None
        said = step_plan_words(planned.reason, planned.plan, kind)
        assert said == plan_words(planned.reason, kind)


def test_a_request_is_worded_from_its_values_and_an_old_one_from_its_reason() -> None:
    [planned] = first_notifications(kind=AlertKind.SOS, school=a_school(frozenset()), body="x")[:1]
    request = request_notification(planned, alert_id=T0_ID, school="lancaster", timestamp=T0)
    assert request.plan == {
        "policy": "sos",
        "step": "first",
        "tier": 1,
        "roles": ["contact_centre"],
    }

    def requested(**fields: Any) -> Any:
        event = type("Requested", (SimpleNamespace,), {"__qualname__": "Notification.Requested"})
        base = {"originator_id": "n1", "channel": "sms", "contact": "cc-1", "step": "tier1"}
        return event(contact_name="Desk", to="+441702000010", body="", **base, **fields)

    # The words come from the values: a reason in any shape (here none a reader knows).
    new = Narrator().words(requested(reason="(machine words)", plan=request.plan))
    old = Narrator().words(requested(reason="policy sos: tier 1 (contact_centre)"))
    assert new is not None and old is not None
    assert (
        new[1]
        == old[1]
        == (
            "text to Desk (+441702000010) requested: Escalation plan for an SOS: first the contact centre"
        )
    )


T0_ID = __import__("uuid").UUID(int=1)
