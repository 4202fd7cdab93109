"""A device that reuses a message `id` (a counter restarted at a reboot, one counter per
kind): a message is a repeat only of the same message, on SQLite and on PostgreSQL.

"The same device and id are recorded once" (INTERFACES.md section 2) is about repeats of
one message. Another message under a used id is recorded as new, without the id (listed in
`rejected_fields`) and flagged `id_reused`; an alarm among them raises or joins its own alert
and names it, never an alert that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from service.application.device_intake import DeviceIntake, Intaken, Outcome
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind
from service.domain.alerts.alert import Outcome as AlertOutcome
from service.domain.devices.messages import DeviceMessage
from tests.contract.test_device_intake import reading
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


def raised(world: World, result: Intaken, kind: AlertKind) -> Alert:
    """The stored alert an alarm's answer names: it exists, of the alarm's kind."""
    assert result.alert_id is not None and result.alert_kind is kind, result
    alert = world.app.load_optional(result.alert_id, Alert)
    assert alert is not None, "the device was told of an alert that does not exist"
    assert alert.kind is kind
    return alert


def recorded_anew(world: World, result: Intaken, kind: str, msg_id: str) -> DeviceMessage:
    assert result.outcome is Outcome.RECORDED and "id_reused" in result.flags, result
    assert result.message_id != ids.device_message_id("sos-0001", msg_id)
    assert result.message_id is not None
    message = world.app.load_optional(result.message_id, DeviceMessage)
    assert message is not None and message.kind == kind and message.message_id is None
    assert f"'{msg_id}'" in message.fields["rejected_fields"]["id"]
    return message


def test_an_sos_reusing_a_heartbeats_id_raises_its_alert(world: World) -> None:
    DeviceIntake(world.app).record([reading("heartbeat", id="77")])
    (sos,) = DeviceIntake(world.app).record([reading("sos", id="77")])
    recorded_anew(world, sos, "sos", "77")
    raised(world, sos, AlertKind.SOS)


def test_a_heartbeat_reusing_an_sos_id_is_recorded_as_a_heartbeat(world: World) -> None:
    intake = DeviceIntake(world.app)
    (sos,) = intake.record([reading("sos", id="5")])
    (beat,) = intake.record([reading("heartbeat", id="5", battery=40)])
    assert beat.alert_id is None, "a heartbeat is never answered as the SOS's repeat"
    assert recorded_anew(world, beat, "heartbeat", "5").fields["battery"] == 40
    # The SOS's own repeat is still its repeat.
    (again,) = intake.record([reading("sos", id="5")])
    assert again.outcome is Outcome.DUPLICATE and again.alert_id == sos.alert_id


def test_a_fall_reusing_an_sos_id_raises_a_fall_alert(world: World) -> None:
    intake = DeviceIntake(world.app)
    (sos,) = intake.record([reading("sos", id="9")])
    (fall,) = intake.record([reading("fall", id="9")])
    recorded_anew(world, fall, "fall", "9")
    assert raised(world, fall, AlertKind.FALL).id != sos.alert_id


def test_within_one_group_each_kind_under_one_id_is_its_own_message(world: World) -> None:
    results = DeviceIntake(world.app).record(
        [
            reading("heartbeat", id="1"),
            reading("sos", id="1"),
            reading("fall", id="1"),
            reading("sos", id="1"),  # the SOS's repeat: recorded once, names its alert
            reading("heartbeat", id="1"),
        ]
    )
    beat, sos, fall, sos_again, beat_again = results
    assert beat.outcome is Outcome.RECORDED and "id_reused" not in beat.flags
    recorded_anew(world, sos, "sos", "1")
    recorded_anew(world, fall, "fall", "1")
    raised(world, sos, AlertKind.SOS)
    raised(world, fall, AlertKind.FALL)
    assert (sos_again.outcome, sos_again.message_id) == (Outcome.DUPLICATE, sos.message_id)
    assert sos_again.alert_id == sos.alert_id
    assert (beat_again.outcome, beat_again.message_id) == (Outcome.DUPLICATE, beat.message_id)


def test_an_sos_reusing_the_id_of_one_whose_alert_was_resolved_raises_a_new_alert(
    world: World,
) -> None:
    """'Once a person has resolved the alert, a new press is news and raises a new alert':
    a counter restarted at a reboot must not be answered with last week's resolved alert."""
    intake = DeviceIntake(world.app)
    (first,) = intake.record([reading("sos", id="1", ts="2026-12-01T09:00:00Z")])
    assert first.alert_id is not None
    world.app.resolve_alert(first.alert_id, outcome=AlertOutcome.SAFE, note="fine", by="dsl1")
    # A late repeat of that very press (its ts) is still its repeat.
    (late,) = intake.record([reading("sos", id="1", ts="2026-12-01T09:00:00Z")])
    assert late.outcome is Outcome.DUPLICATE and late.alert_id == first.alert_id
    # Without a ts nothing shows it is another press: the same device and id, recorded once.
    (bare,) = intake.record([reading("sos", id="1")])
    assert bare.outcome is Outcome.DUPLICATE and bare.alert_id == first.alert_id
    (news,) = intake.record([reading("sos", id="1", ts="2026-12-06T09:00:00Z")])
    recorded_anew(world, news, "sos", "1")
    assert raised(world, news, AlertKind.SOS).is_open and news.alert_id != first.alert_id


def test_a_lost_race_with_another_kind_records_both(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another gateway stored a heartbeat under the id after our look-up: the SOS still
    raises its alert (the one-by-one fallback applies the same rule)."""
    intake = DeviceIntake(world.app, pressed_again_every=timedelta(seconds=10))
    intake.record([reading("heartbeat", id="3")])
    monkeypatch.setattr(world.app, "stored", lambda *_: set())
    (sos,) = intake.record([reading("sos", id="3")])
    recorded_anew(world, sos, "sos", "3")
    raised(world, sos, AlertKind.SOS)
