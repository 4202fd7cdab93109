"""An SOS's build asks the store once: its duplicate check, the device's open-alarm pointer
(or the alert it remembers) and the staff member's whereabouts in one read
(service/application/alarm_reads.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from device_gateway.messages import parse_device_message
from service.application.device_intake import DeviceIntake, Outcome
from service.domain.alerts.alert import Outcome as AlertOutcome
from service.domain.devices.messages import DeviceReading
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


def reading(kind: str, device: str = "sos-0001", **fields: Any) -> DeviceReading:
    parsed = parse_device_message(f"lw/v1/dev/{device}/{kind}", json.dumps(fields).encode())
    assert isinstance(parsed, DeviceReading), parsed
    return parsed


def count_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each of the unit of work's store reads, by name, as the intake makes them."""
    asked: list[str] = []
    for name in ("load_optional", "stored", "load_many", "load", "exists"):
        real = getattr(world.app, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            asked.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(world.app, name, counted)
    return asked


def test_a_first_press_is_built_from_one_read_of_the_store(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = DeviceIntake(world.app)
    intake.record([reading("heartbeat", id="hb-1")])  # the directory's entries read and kept
    asked = count_reads(world, monkeypatch)
    (result,) = intake.record([reading("sos", id="press-1")])
    assert result.outcome is Outcome.RECORDED and result.alert_id is not None
    assert result.requested, "tier 1 asked for"
    assert asked == ["load_many"], asked


def test_a_press_joining_the_alert_it_remembers_is_one_read_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = DeviceIntake(world.app)
    (first,) = intake.record([reading("sos", id="press-1")])
    asked = count_reads(world, monkeypatch)
    (again,) = intake.record([reading("sos", id="press-2")])
    assert again.joined_open_alert and again.alert_id == first.alert_id
    assert asked == ["load_many"]


def test_what_was_read_together_is_what_the_store_holds(world: World) -> None:
    """The pointer read with the group: a press after a restart joins the open alert, a
    repeat of a stored press is a duplicate, and after the alert is resolved the next press
    raises a new one (the pointer moved, read from the same one query)."""
    (first,) = DeviceIntake(world.app).record([reading("sos", id="p-1")])
    assert first.alert_id is not None
    (repeat, joined) = DeviceIntake(world.app).record(
        [reading("sos", id="p-1"), reading("sos", id="p-2")]
    )
    assert repeat.outcome is Outcome.DUPLICATE and repeat.alert_id == first.alert_id
    assert joined.joined_open_alert and joined.alert_id == first.alert_id
    world.app.resolve_alert(first.alert_id, outcome=AlertOutcome.SAFE, note="fine", by="dsl1")
    (later,) = DeviceIntake(world.app).record([reading("sos", id="p-3")])
    assert later.alert_id not in (None, first.alert_id) and not later.joined_open_alert
    (after,) = DeviceIntake(world.app).record([reading("sos", id="p-4")])
    assert after.alert_id == later.alert_id and after.joined_open_alert
