"""Recording device messages in groups, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from device_gateway.messages import parse_device_message
from service.application.device_intake import DeviceIntake, Outcome
from service.clock import FakeClock
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.alert import Outcome as AlertOutcome
from service.domain.devices.messages import DeviceMessage, DeviceReading
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


@pytest.fixture
def intake(world: World) -> DeviceIntake:
    return DeviceIntake(world.app, pressed_again_every=timedelta(seconds=10))


def reading(kind: str, device: str = "sos-0001", **fields: Any) -> DeviceReading:
    parsed = parse_device_message(f"lw/v1/dev/{device}/{kind}", json.dumps(fields).encode())
    assert isinstance(parsed, DeviceReading), parsed
    return parsed


def count_saves(world: World) -> list[int]:
    saves: list[int] = []
    world.app.add_listener(lambda: saves.append(1))
    return saves


def test_a_group_of_messages_is_one_transaction(world: World, intake: DeviceIntake) -> None:
    saves = count_saves(world)
    batch = [reading("heartbeat", id=f"hb-{n}", battery=90 - n) for n in range(50)]
    batch.append(reading("sos", id="press-1"))
    batch.append(reading("location", id="loc-1", lat=51.5, lon=0.7, acc=10))
    results = intake.record(batch)
    assert [r.outcome for r in results] == [Outcome.RECORDED] * 52
    assert len(saves) == 1
    assert results[50].alert_kind is AlertKind.SOS and results[50].alert_id is not None
    world.projector.catch_up()
    device = world.views.get("device", "sos-0001")
    assert device is not None
    assert device["counts"] == {"heartbeat": 50, "sos": 1, "location": 1}
    assert device["location"]["lat"] == 51.5


def test_every_kind_is_recorded(world: World, intake: DeviceIntake) -> None:
    kinds = ["sos", "heartbeat", "checkin", "battery", "location", "fall", "message"]
    payloads: dict[str, dict[str, Any]] = {
        "battery": {"battery": 55},
        "location": {"lat": 51.5, "lon": 0.7},
        "message": {"text": "on my way"},
    }
    results = intake.record(
        [reading(kind, id=f"{kind}-1", **payloads.get(kind, {})) for kind in kinds]
    )
    assert all(r.outcome is Outcome.RECORDED for r in results)
    alerted = {k: r.alert_kind for k, r in zip(kinds, results, strict=True) if r.alert_kind}
    assert alerted == {"sos": AlertKind.SOS, "fall": AlertKind.FALL}
    world.projector.catch_up()
    assert {a["kind"] for a in world.views.find("alert")} == {"sos", "fall"}


def test_duplicates_in_the_batch_or_the_store_do_not_fail_the_batch(
    world: World, intake: DeviceIntake
) -> None:
    first = intake.record([reading("sos", id="press-1"), reading("heartbeat", id="hb-1")])
    again = intake.record(
        [
            reading("heartbeat", id="hb-1"),
            reading("heartbeat", id="hb-2"),
            reading("heartbeat", id="hb-2"),
            reading("sos", id="press-1"),
            reading("heartbeat"),
            reading("heartbeat"),
        ]
    )
    assert [r.outcome for r in again] == [
        Outcome.DUPLICATE,
        Outcome.RECORDED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
        Outcome.RECORDED,  # no id: recorded as delivered, every time
        Outcome.RECORDED,
    ]
    assert again[3].alert_id == first[0].alert_id, "a repeated SOS names its alert again"
    world.projector.catch_up()
    device = world.views.get("device", "sos-0001")
    assert device is not None and device["counts"] == {"sos": 1, "heartbeat": 4}


def test_a_lost_race_falls_back_to_one_save_per_message(
    world: World, intake: DeviceIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake.record([reading("message", id="m-1", text="on my way")])
    # Another gateway recorded m-1 after our look-up: the group save collides.
    monkeypatch.setattr(world.app, "stored", lambda *_: set())
    results = intake.record(
        [reading("message", id="m-1", text="on my way"), reading("heartbeat", id="hb-2")]
    )
    assert [r.outcome for r in results] == [Outcome.DUPLICATE, Outcome.RECORDED]


def test_a_repeated_reading_is_found_by_its_insert_not_asked_first(
    world: World, intake: DeviceIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain readings ask nothing before the save: the insert leaves a repeat out, in the
    same transaction as the rest of the group, and says so."""
    first = intake.record([reading("heartbeat", id="hb-1"), reading("location", id="loc-1")])
    asked: list[object] = []
    monkeypatch.setattr(world.app, "stored", lambda ids: asked.extend(ids) or set())
    saves = count_saves(world)
    results = intake.record(
        [
            reading("heartbeat", id="hb-2"),
            reading("heartbeat", id="hb-1"),
            reading("location", id="loc-1"),
            reading("heartbeat", id="hb-2"),
        ]
    )
    assert [r.outcome for r in results] == [
        Outcome.RECORDED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    ]
    assert results[1].message_id == first[0].message_id
    assert results[2].message_id == first[1].message_id
    assert results[3].message_id == results[0].message_id
    assert asked == [] and len(saves) == 1
    world.projector.catch_up()
    device = world.views.get("device", "sos-0001")
    assert device is not None and device["counts"] == {"heartbeat": 2, "location": 1}


def test_an_unknown_device_is_named_and_the_rest_recorded(intake: DeviceIntake) -> None:
    results = intake.record([reading("sos", device="ghost"), reading("heartbeat")])
    assert [r.outcome for r in results] == [Outcome.UNKNOWN_DEVICE, Outcome.RECORDED]


def test_a_safe_word_in_a_text_raises_a_silent_duress_alert_and_is_never_stored(
    world: World, intake: DeviceIntake
) -> None:
    """'A staff member's safe word anywhere in a text raises a silent duress alert.'"""
    (result,) = intake.record([reading("message", id="t-1", text="Running late. Bluebird!")])
    assert result.alert_kind is AlertKind.DURESS
    assert result.message_id is not None
    message = world.app.repository.get(result.message_id)
    assert isinstance(message, DeviceMessage)
    assert message.fields["text"] == "Running late. [redacted]!"
    assert "luebird" not in json.dumps([n.state.decode(errors="replace") for n in _all(world)])
    world.projector.catch_up()
    (alert,) = world.views.find("alert")
    assert (alert["kind"], alert["silent"], alert["severity"]) == ("duress", True, "red")
    assert len(world.views.find("notification")) == 2, "the contact centre is told"


def test_an_ordinary_text_raises_nothing(world: World, intake: DeviceIntake) -> None:
    (result,) = intake.record([reading("message", id="t-1", text="blue bird spotted")])
    assert result.alert_kind is None and result.outcome is Outcome.RECORDED
    world.projector.catch_up()
    assert world.views.find("alert") == []


def test_a_stuck_sos_raises_one_alert_and_counts_the_presses(
    world: World, intake: DeviceIntake
) -> None:
    """'A device stuck sending SOS many times a second raises ONE alert, not hundreds.'"""
    clock = world.clock
    assert isinstance(clock, FakeClock)
    results = []
    for n in range(30):
        results.extend(intake.record([reading("sos", id=f"p-{n}"), reading("sos", id=f"q-{n}")]))
        clock.advance(timedelta(seconds=1))
    assert len({r.alert_id for r in results}) == 1
    assert sum(r.joined_open_alert for r in results) == 59
    world.projector.catch_up()
    (alert,) = world.views.find("alert")
    assert alert["presses"] == 60 - _pending(intake)
    assert len(world.views.find("notification")) == 2, "tier 1 told once, not 60 times"
    alert_id = results[0].alert_id
    assert alert_id is not None
    assert world.app.alert(alert_id).presses == alert["presses"]
    # Resolved: the next press is a new emergency.
    world.app.resolve_alert(alert_id, outcome=AlertOutcome.FALSE_ALARM, note="stuck", by="dsl1")
    (after,) = intake.record([reading("sos", id="new-1")])
    assert after.alert_id != alert_id and not after.joined_open_alert


def test_a_press_after_a_restart_joins_the_alert_still_open(world: World) -> None:
    """The fob repeats its SOS with new ids until it hears back; the service restarted in
    between: still one emergency, one alert (the pointer is stored, not only remembered)."""
    (first,) = DeviceIntake(world.app).record([reading("sos", id="before-restart")])
    (again,) = DeviceIntake(world.app).record([reading("sos", id="after-restart")])
    assert again.alert_id == first.alert_id and again.joined_open_alert
    assert first.alert_id is not None
    world.app.resolve_alert(first.alert_id, outcome=AlertOutcome.SAFE, note="fine", by="dsl1")
    (later,) = DeviceIntake(world.app).record([reading("sos", id="next-day")])
    assert later.alert_id != first.alert_id and not later.joined_open_alert
    (repeat,) = DeviceIntake(world.app).record([reading("sos", id="next-day-2")])
    assert repeat.alert_id == later.alert_id


def test_a_far_off_device_clock_is_kept_and_flagged(world: World, intake: DeviceIntake) -> None:
    ts = (world.clock.now() + timedelta(hours=2)).isoformat()
    (result,) = intake.record([reading("heartbeat", id="hb-1", ts=ts)])
    assert result.flags == ("clock_skew",)
    world.projector.catch_up()
    device = world.views.get("device", "sos-0001")
    assert device is not None and device["clock_skew_seconds"] == 7200.0


def test_an_sos_with_a_bad_field_records_which_it_dropped(
    world: World, intake: DeviceIntake
) -> None:
    (result,) = intake.record([reading("sos", id="p-1", battery="full")])
    assert result.alert_kind is AlertKind.SOS and result.flags == ("rejected_fields",)
    message = world.app.repository.get(result.message_id)  # type: ignore[arg-type]
    assert message.fields["rejected_fields"] == {
        "battery": "field 'battery' must be an integer 0-100, got 'full'"
    }


def test_low_battery_is_flagged_against_the_schools_policy(
    world: World, intake: DeviceIntake
) -> None:
    """'low_battery_below: 20'"""
    intake.record([reading("battery", id="b-1", battery=19)])
    world.projector.catch_up()
    assert (world.views.get("device", "sos-0001") or {})["low_battery"] is True
    intake.record([reading("battery", id="b-2", battery=80)])
    world.projector.catch_up()
    assert (world.views.get("device", "sos-0001") or {})["low_battery"] is False


def _pending(intake: DeviceIntake) -> int:
    return sum(alarm.pending for alarm in intake.open_alarms.joined.values())


def _all(world: World) -> list[Any]:
    return list(world.app.recorder.select_notifications(start=1, limit=10_000))


def test_a_press_racing_a_change_to_its_open_alert_still_joins_it(
    world: World, intake: DeviceIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher records 'notified' on the alert while a press is being recorded:
    the group save collides, and the press must still join the alert, not raise another."""
    (first,) = intake.record([reading("sos", id="p-0")])
    assert first.alert_id is not None
    real_save = world.app.save
    raced: list[bool] = []

    def save(*aggregates: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            world.app.acknowledge_alert(first.alert_id, by="reception1", via="test")  # type: ignore[arg-type]
        return real_save(*aggregates, **kwargs)

    monkeypatch.setattr(world.app, "save", save)
    (second,) = intake.record([reading("sos", id="p-1")])
    assert raced
    assert second.alert_id == first.alert_id and second.joined_open_alert
    world.projector.catch_up()
    assert len(world.views.find("alert")) == 1


def test_help_from_the_phone_app_raises_an_sos_and_is_answered(
    world: World, intake: DeviceIntake
) -> None:
    """INTERFACES.md section 3: "`HELP` raises an SOS", from the app as by text; the device is
    answered `alert_received` (`announced`), and a plain text is not."""
    [help_, plain] = intake.record(
        [reading("message", id="t-1", text="help!"), reading("message", id="t-2", text="on my way")]
    )
    assert (help_.alert_kind, help_.announced) == (AlertKind.SOS, True)
    assert help_.requested, "the SOS asked for its tier-1 notifications with the message"
    assert (plain.alert_id, plain.announced) == (None, False)
    world.projector.catch_up()
    [alert] = world.views.find("alert")
    assert (alert["id"], alert["kind"], alert["device"]) == (str(help_.alert_id), "sos", "sos-0001")


def test_help_with_the_safe_word_is_silent_duress_answered_as_help(
    world: World, intake: DeviceIntake
) -> None:
    """The safe word raises the silent duress alert and no SOS; the device is answered as for
    HELP alone (a duress text without HELP is answered as any text: not at all)."""
    [both, word_only] = intake.record(
        [
            reading("message", id="t-1", text="HELP bluebird"),
            reading("message", id="t-2", text="fine, bluebird"),
        ]
    )
    assert (both.alert_kind, both.announced) == (AlertKind.DURESS, True)
    assert (word_only.alert_kind, word_only.announced) == (AlertKind.DURESS, False)
    world.projector.catch_up()
    assert sorted(a["kind"] for a in world.views.find("alert")) == ["duress", "duress"]
