"""The ladder as plain functions: decide(state, command, now) -> steps, evolve(state, step)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from service.adapters.directory_file import load_directory
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.ladder import (
    EscalationState,
    Messages,
    Start,
    Stop,
    Tick,
    decide,
    evolve,
    policy_for,
)
from tests.worlds import DIRECTORY

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WORDS = Messages(sms="text", say="words")


def lancaster() -> dict[str, Any]:
    return load_directory(DIRECTORY).schools[0].as_event_data()


def run(kind: AlertKind, *seconds: int) -> tuple[EscalationState, list[list[str]]]:
    """Start at T0, tick at each of `seconds`; the step names decided at each."""
    school = lancaster()
    state = EscalationState(raised_at=T0)
    decided: list[list[str]] = []
    commands: list[tuple[Any, datetime]] = [(Start(kind, T0, school, WORDS), T0)]
    commands += [(Tick(school, WORDS), T0 + timedelta(seconds=s)) for s in seconds]
    for command, now in commands:
        steps = decide(state, command, now, kind)
        decided.append([s.step for s in steps])
        state = reduce(evolve, steps, state)
    return state, decided


def test_the_policy_is_the_kinds_own_else_the_sos_policy_else_the_defaults() -> None:
    policy = lancaster()["policy"]
    assert policy_for(AlertKind.FALL, policy).name == "sos"  # type: ignore[union-attr]
    assert policy_for(AlertKind.SOS, {}).name == "default"  # type: ignore[union-attr]
    assert policy_for(AlertKind.NOTIFICATION_FAILED, policy) is None  # console only
    explicit = {"notification_failure": {"ack_within": 30, "renotify_every": 30}}
    assert policy_for(AlertKind.NOTIFICATION_FAILED, explicit).ack_within == 30  # type: ignore[union-attr]


def test_each_minute_a_reminder_and_a_tier_until_the_tiers_run_out() -> None:
    state, decided = run(AlertKind.SOS, 30, 60, 60, 120, 180, 240)
    assert decided == [
        ["tier1"],
        [],
        ["renotify1", "tier2"],
        [],  # the same moment again decides nothing: a timer may fire twice
        ["renotify2", "tier3"],
        ["renotify3"],
        ["renotify4"],
    ]
    assert state.next_due_at == T0 + timedelta(seconds=300)
    assert [c.id for c in state.told] == ["cc-1", "cc-2", "dsl-1", "head-1", "slt-1"]


def test_a_stop_tells_everyone_told_except_the_taker_and_ends_the_ladder() -> None:
    state, _ = run(AlertKind.SOS, 60)
    [step] = decide(state, Stop("A. Lead", "dsl-1", "taken"), T0, AlertKind.SOS)
    assert [p.to for p in step.notify] == ["+441702000010", "+441702000014"]
    stopped = evolve(state, step)
    assert stopped.stopped and stopped.next_due_at is None
    assert decide(stopped, Tick(lancaster(), WORDS), T0 + timedelta(hours=1), AlertKind.SOS) == []
    assert decide(stopped, Stop("x", None, "taken"), T0, AlertKind.SOS) == []


def test_red_alerts_are_called_as_well_as_texted_amber_only_texted() -> None:
    school = lancaster()
    for kind, channels in ((AlertKind.DURESS, {"sms", "voice"}), (AlertKind.LOW_BATTERY, {"sms"})):
        start = EscalationState(raised_at=T0)
        state = reduce(evolve, decide(start, Start(kind, T0, school, WORDS), T0, kind), start)
        steps = decide(state, Tick(school, WORDS), T0 + timedelta(seconds=60), kind)
        assert {p.channel.value for s in steps for p in s.notify} == channels


def test_an_overdue_alert_follows_the_visits_ladder_unless_its_policy_names_tiers() -> None:
    """If not back on time: call their mobile, then reception rings the pupil's home, then
    senior leaders are told. That ladder is the overdue alert's escalation; the tiers would
    tell the same people twice."""
    state, decided = run(AlertKind.OVERDUE, 60, 120, 600)
    assert decided == [["console"], [], [], []]
    assert state.told == ()
    assert (
        "own overdue steps"
        in decide(
            EscalationState(raised_at=T0),
            Start(AlertKind.OVERDUE, T0, lancaster(), WORDS),
            T0,
            AlertKind.OVERDUE,
        )[0].reason
    )
    with_tiers = {
        "overdue": {"grace": 600, "tiers": [["dsl"]], "ack_within": 60, "renotify_every": 60}
    }
    assert policy_for(AlertKind.OVERDUE, with_tiers).tiers == (("dsl",),)  # type: ignore[union-attr]
