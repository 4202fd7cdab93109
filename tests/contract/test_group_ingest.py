"""A group of plain readings is recorded in one transaction on both stores: in order, each
once, loadable as the message it always was; a group meeting devices for the first time
looks them all up at once and learns what one-by-one lookups would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from device_gateway.messages import parse_device_message
from service.application.device_intake import Outcome
from service.application.directory_lookup import DirectoryLookup
from service.domain.devices.messages import DeviceMessage, DeviceReading
from tests.devices import payload, topic
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


def reading(device: str, kind: str, **fields: object) -> DeviceReading:
    parsed = parse_device_message(topic(device, kind), payload(**fields))
    assert isinstance(parsed, DeviceReading)
    return parsed


def test_a_group_of_readings_is_recorded_in_order_each_once(world: World) -> None:
    group = [
        reading("sos-0001", "heartbeat", id="h-1", battery=90),
        reading("sos-0002", "location", id="l-1", lat=51.5, lon=-0.1),
        reading("sos-0001", "battery", id="b-1", battery=12),
        reading("sos-0001", "heartbeat", id="h-1", battery=90),  # repeated within the group
        reading("sos-0002", "checkin"),
    ]
    head = world.app.recorder.max_notification_id() or 0
    results = world.intake.record(group)
    assert [r.outcome for r in results] == [Outcome.RECORDED] * 3 + [
        Outcome.DUPLICATE,
        Outcome.RECORDED,
    ]
    stored = world.app.recorder.select_notifications(start=head + 1, limit=100)
    assert [n.originator_id for n in stored] == [results[i].message_id for i in (0, 1, 2, 4)]
    assert [n.id for n in stored] == sorted(n.id for n in stored)
    located = world.app.repository.get(results[1].message_id)
    assert isinstance(located, DeviceMessage)
    assert (located.device, located.kind, located.school) == ("sos-0002", "location", "kingsdown")
    assert located.fields["lat"] == 51.5

    again = world.intake.record(group[:3])
    assert [r.outcome for r in again] == [Outcome.DUPLICATE] * 3
    assert world.app.recorder.max_notification_id() == stored[-1].id


def test_devices_looked_up_together_are_what_one_by_one_lookups_find(world: World) -> None:
    together = DirectoryLookup(world.app)
    together.devices(["sos-0001", "sos-0002", "no-such-fob"])
    assert sorted(together._devices) == ["sos-0001", "sos-0002"]  # found together, not later
    alone = DirectoryLookup(world.app)
    for key in ("sos-0001", "sos-0002"):
        assert together.device(key) == alone.device(key)
        assert together.device(key) is not None
    assert together.device("no-such-fob") is None
