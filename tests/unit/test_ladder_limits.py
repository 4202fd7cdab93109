"""The ladder stays humane: per contact and channel rate limits, permanent refusals, and a
next step always due. Plain functions, no I/O; properties over any sequence of ticks.

Policy (tests/fixtures/directory.yaml, Lancaster): sos ack_within 60s, renotify_every 60s,
tiers [[contact_centre], [dsl], [headteacher, slt]]. Limits: service/domain/alerts/limits.py,
chosen in docs/escalation.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.directory_file import load_directory
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.ladder import (
    Command,
    EscalationState,
    Messages,
    Refusal,
    Refused,
    Start,
    Step,
    Tick,
    decide,
    evolve,
    step_data,
    step_from_data,
)
from service.domain.alerts.limits import LIMITS
from service.domain.alerts.notifications import Channel
from tests.worlds import DIRECTORY

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WORDS = Messages(sms="text", say="words")
EVERY = timedelta(seconds=60)


def lancaster() -> dict[str, Any]:
    return load_directory(DIRECTORY).schools[0].as_event_data()


class Run:
    """A ladder driven by commands, keeping every step and when each was decided."""

    def __init__(self, kind: AlertKind = AlertKind.SOS, school: dict[str, Any] | None = None):
        self.kind = kind
        self.school = school or lancaster()
        self.state = EscalationState(raised_at=T0)
        self.steps: list[tuple[datetime, Step]] = []
        self.do(Start(kind, T0, self.school, WORDS), T0)

    def do(self, command: Command, now: datetime) -> list[Step]:
        steps = decide(self.state, command, now, self.kind)
        for step in steps:
            self.state = evolve(self.state, step)
            self.steps.append((now, step))
        return steps

    def tick(self, now: datetime) -> list[Step]:
        return self.do(Tick(self.school, WORDS), now)

    def refuse(
        self, contact: str, channel: Channel, now: datetime, code: int = 21211
    ) -> list[Step]:
        refusal = Refusal(contact, channel, f"number refused — {code}", code)
        return self.do(Refused(refusal, f"n-{contact}-{channel}", self.school, WORDS), now)

    def sends(self) -> dict[tuple[str, Channel], list[datetime]]:
        """When each contact was asked on each channel (tier 1's texts go with the alert)."""
        sent: dict[tuple[str, Channel], list[datetime]] = defaultdict(list)
        for index, (_, step) in enumerate(self.steps):
            if index == 0:
                for contact in step.told:
                    sent[(contact.id, Channel.SMS)].append(T0)
            for plan in step.notify:
                if step.at is not None:
                    sent[(plan.contact, plan.channel)].append(step.at)
        return sent


def within_limits(times: list[datetime], channel: Channel) -> bool:
    times = sorted(times)
    for n in range(1, len(times)):
        if times[n] - times[n - 1] < LIMITS.gap(n, EVERY):
            return False
        for window in LIMITS.windows[channel]:
            recent = [t for t in times[:n] if t > times[n] - window.within]
            if len(recent) >= window.count:
                return False
    return True


def test_reminders_back_off_per_person_while_each_new_tier_is_told_at_once() -> None:
    run = Run()
    for minute in range(1, 19):
        run.tick(T0 + timedelta(minutes=minute))
    sms = run.sends()
    minutes = {
        key: [int((t - T0).total_seconds() // 60) for t in times] for key, times in sms.items()
    }
    assert minutes[("cc-1", Channel.SMS)] == [0, 1, 3, 7, 15]  # 1, 2, 4, 8 minutes apart
    assert minutes[("dsl-1", Channel.SMS)] == [1, 2, 4, 8, 16]  # tier 2 told at 1 min exactly
    assert minutes[("head-1", Channel.SMS)] == [2, 3, 5, 9, 17]
    # Calls: 3 per 15 minutes at most (GoAlert's carrier figure), then every 8 minutes.
    assert minutes[("cc-1", Channel.VOICE)] == [0, 1, 3, 15]
    assert all(within_limits(times, channel) for (_, channel), times in sms.items())


def test_a_refused_channel_is_never_asked_again_and_the_other_is_used() -> None:
    """21610 (STOP) on an amber alert's only channel: the contact is called instead, then
    reminded by call; texts to that number stop for this alert."""
    run = Run(AlertKind.LOW_BATTERY)
    [refused] = run.refuse("cc-1", Channel.SMS, T0 + timedelta(seconds=5), code=21610)
    assert [(p.contact, p.channel, p.purpose) for p in refused.notify] == [
        ("cc-1", Channel.VOICE, "fallback:n-cc-1-sms")
    ]
    assert "21610" in refused.reason and refused.refused[0].code == 21610
    for minute in range(1, 10):
        run.tick(T0 + timedelta(minutes=minute))
    sends = run.sends()
    assert sends[("cc-1", Channel.SMS)] == [T0]
    assert len(sends[("cc-1", Channel.VOICE)]) > 1
    assert ("cc-2", Channel.VOICE) not in sends  # an amber alert calls nobody else


def test_a_tier_nobody_can_reach_is_passed_at_once() -> None:
    run = Run()
    soon = T0 + timedelta(seconds=3)
    for contact in ("cc-1", "cc-2"):
        run.refuse(contact, Channel.SMS, soon)
    assert run.state.tier == 1  # the calls may still get through
    run.refuse("cc-1", Channel.VOICE, soon)
    steps = run.refuse("cc-2", Channel.VOICE, soon)
    assert [s.step for s in steps] == ["refused", "tier2"]
    assert "not waiting" in steps[1].reason
    assert {(p.contact, p.channel) for p in steps[1].notify} == {
        ("dsl-1", Channel.SMS),
        ("dsl-1", Channel.VOICE),
    }
    assert steps[-1].next_due_at == T0 + timedelta(seconds=60)  # tier 3 stays on time


def test_a_school_with_nobody_in_tier_1_tells_tier_2_at_once() -> None:
    school = lancaster()
    school["contacts"] = [c for c in school["contacts"] if c["role"] != "contact_centre"]
    run = Run(school=school)
    assert [s.step for _, s in run.steps] == ["tier1", "tier2"]


def test_steps_read_back_from_the_store_rebuild_the_same_state() -> None:
    run = Run()
    run.refuse("cc-1", Channel.SMS, T0 + timedelta(seconds=2))
    for minute in range(1, 6):
        run.tick(T0 + timedelta(minutes=minute))
    replayed = EscalationState(raised_at=T0)
    for _, step in run.steps:
        replayed = evolve(replayed, step_from_data(step_data(step)))
    assert replayed == run.state


def test_steps_recorded_before_limits_existed_still_fold() -> None:
    """Old `Alert.Escalated` data has no `at` or `refused`: their times come from the step's
    name and the policy."""
    run = Run()
    run.tick(T0 + timedelta(minutes=1))
    old = EscalationState(raised_at=T0)
    for _, step in run.steps:
        data = step_data(step)
        del data["at"], data["refused"]
        old = evolve(old, step_from_data(data))
    assert old.sent == run.state.sent


ticks = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40)
refusals = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=39),
        st.sampled_from(["cc-1", "cc-2", "dsl-1", "head-1", "slt-1"]),
        st.sampled_from(list(Channel)),
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    gaps=ticks,
    refused=refusals,
    kind=st.sampled_from([AlertKind.SOS, AlertKind.LOW_BATTERY, AlertKind.DURESS]),
)
def test_for_any_ticks_and_refusals_the_ladder_keeps_its_limits_and_its_next_step(
    gaps: list[int], refused: list[tuple[int, str, Channel]], kind: AlertKind
) -> None:
    run = Run(kind)
    now = T0
    refused_at: dict[tuple[str, Channel], int] = {}  # the index of the step that recorded it
    for index, gap in enumerate(gaps):
        now += timedelta(seconds=gap)
        for when, contact, channel in refused:
            if when == index and contact in {c.id for c in run.state.told}:
                run.refuse(contact, channel, now)
                refused_at.setdefault((contact, channel), len(run.steps))
        run.tick(now)
        # Always a next step, due within one renotify interval, never in the past.
        assert run.state.next_due_at is not None
        assert now < run.state.next_due_at <= now + EVERY
        # No tier is ever later than its ack_within.
        assert run.state.tier >= min(3, int((now - T0).total_seconds() // 60) + 1)
    for (contact, channel), times in run.sends().items():
        assert within_limits(times, channel), (contact, channel, times)
    for (contact, channel), since in refused_at.items():
        later = [
            step.step
            for _, step in run.steps[since:]
            for p in step.notify
            if (p.contact, p.channel) == (contact, channel)
        ]
        assert later == [], f"{contact} {channel} asked again after its refusal"
