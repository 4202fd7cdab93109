"""The escalation ladder in simulated time: the store, the views and the scheduler, no sleeps.

Policy (tests/fixtures/directory.yaml, Lancaster): sos ack_within 60s, renotify_every 60s,
tiers [[contact_centre], [dsl], [headteacher, slt]].
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
import yaml

from service.adapters.directory_file import parse_directory
from service.application import escalation_timers
from service.clock import FakeClock
from service.domain.alerts.alert import AlertKind
from service.workers.scheduler import Scheduler
from tests.worlds import DIRECTORY, World, a_trust_with_lone_visitors

CC = {"+441702000010", "+441702000014"}
DSL = "+441702000011"
HEAD_SLT = {"+441702000012", "+441702000013"}


class Ladder:
    """A world whose escalation timers fire when the test moves the clock."""

    def __init__(self, database_url: str, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.world: World = a_trust_with_lone_visitors(database_url, self.clock)
        self.app = self.world.app
        self.scheduler = Scheduler(
            self.world.views, self.clock, escalation_timers.timer_actions(self.app)
        )
        self.seen: set[str] = set()

    def settle(self) -> None:
        """Catch the views up and fire whatever is due, until nothing more happens."""
        for _ in range(10):
            self.world.projector.catch_up()
            self.scheduler.forget_fired()
            if not self.scheduler.tick():
                return
        raise AssertionError("timers kept firing")

    def after(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.settle()

    def fobs(self, *devices: str) -> None:
        """More SOS fobs for Sam, imported as the directory file would add them: each press
        of a fob whose alert is still open joins that alert, so separate alarms need
        separate fobs."""
        raw = yaml.safe_load(DIRECTORY.read_text())
        raw["devices"] = [
            {"id": device, "kind": "sos_fob", "staff": "s-jones", "secret": f"fob-{device}"}
            for device in devices
        ]
        self.app.import_directory(parse_directory(raw))

    def sos(self, message_id: str = "m-1", device: str = "sos-0001") -> UUID:
        recorded = self.world.press(device, message_id)
        assert recorded.alert_id is not None
        self.settle()
        return recorded.alert_id

    def notifications(self) -> list[dict[str, Any]]:
        self.world.projector.catch_up()
        return self.world.views.find("notification", limit=10_000)

    def new(self) -> list[tuple[str, str, str]]:
        """(step, channel, to) of notifications requested since the last call."""
        fresh = [n for n in self.notifications() if n["id"] not in self.seen]
        self.seen.update(n["id"] for n in fresh)
        return sorted((n["step"], n["channel"], n["to"]) for n in fresh)

    def alert(self, alert_id: UUID) -> dict[str, Any]:
        self.world.projector.catch_up()
        doc = self.world.views.get("alert", str(alert_id))
        assert doc is not None
        return doc


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    """SQLite only: these are rules, not storage (the restart test runs on both stores)."""
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


def steps(*entries: tuple[str, set[str] | str, tuple[str, ...]]) -> list[tuple[str, str, str]]:
    out = []
    for step, numbers, channels in entries:
        for number in {numbers} if isinstance(numbers, str) else numbers:
            out.extend((step, channel, number) for channel in channels)
    return sorted(out)


BOTH = ("sms", "voice")


def test_tiers_are_added_and_everyone_reminded_until_someone_acknowledges(ladder: Ladder) -> None:
    """Until someone acknowledges, add the next tier after each ack_within and remind everyone
    told, each person's reminders backing off (1, 2, 4 ... minutes: docs/escalation.md);
    acknowledging stops it all and tells everyone already notified who took it."""
    alert_id = ladder.sos()
    assert ladder.new() == steps(("tier1", CC, BOTH))

    ladder.after(59)
    assert ladder.new() == []
    ladder.after(1)
    assert ladder.new() == steps(("renotify1", CC, BOTH), ("tier2", DSL, BOTH))
    ladder.after(60)  # the contact centre was reminded a minute ago: next after two
    assert ladder.new() == steps(("renotify2", DSL, BOTH), ("tier3", HEAD_SLT, BOTH))
    ladder.after(60)
    assert ladder.new() == steps(("renotify3", {*CC, *HEAD_SLT}, BOTH))

    ladder.app.acknowledge_alert(alert_id, by="A. Lead", via="sms")
    ladder.settle()
    taken = ladder.new()
    assert taken == steps(("taken", {*CC, *HEAD_SLT}, ("sms",)))  # not the taker
    bodies = {n["body"] for n in ladder.notifications() if n["step"] == "taken"}
    assert len(bodies) == 1 and "taken by A. Lead" in bodies.pop()

    ladder.after(600)
    assert ladder.new() == []
    reasons = [s["reason"] for s in ladder.alert(alert_id)["escalation"]["steps"]]
    assert reasons[0].startswith("policy sos: tier 1")
    assert any("tier 2 (dsl) added: no acknowledgement within 60s" in r for r in reasons)


def test_a_restart_mid_escalation_neither_repeats_nor_skips(database_url: str) -> None:
    ladder = Ladder(database_url)
    ladder.sos()
    ladder.after(60)
    before = ladder.new()
    assert before

    again = Ladder(database_url, ladder.clock)  # a new process over the same store and views
    try:
        again.seen = set(ladder.seen)
        again.settle()
        assert again.new() == []  # nothing repeated
        again.after(60)
        assert again.new() == steps(("renotify2", DSL, BOTH), ("tier3", HEAD_SLT, BOTH))
    finally:
        again.world.close()
        ladder.world.close()


def test_down_for_a_while_adds_every_missed_tier_and_one_reminder(ladder: Ladder) -> None:
    """A late tick skips no tier; the missed reminders are one reminder, not a burst."""
    ladder.sos()
    ladder.new()
    ladder.clock.advance(timedelta(seconds=150))
    ladder.settle()
    assert ladder.new() == steps(
        ("renotify2", CC, BOTH), ("tier2", DSL, BOTH), ("tier3", HEAD_SLT, BOTH)
    )


def test_an_amber_alert_is_texted_not_called(ladder: Ladder) -> None:
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()
    assert ladder.new() == steps(("tier1", CC, ("sms",)))
    ladder.after(60)
    assert ladder.new() == steps(("renotify1", CC, ("sms",)), ("tier2", DSL, ("sms",)))


def test_taken_before_the_ladder_started_still_tells_tier_1_who_took_it(ladder: Ladder) -> None:
    recorded = ladder.world.press("sos-0001", "m-9")
    assert recorded.alert_id is not None
    ladder.app.acknowledge_alert(recorded.alert_id, by="Contact centre desk", via="sms")
    ladder.settle()
    assert [n for n in ladder.new() if n[0] == "taken"] == [("taken", "sms", "+441702000014")]
