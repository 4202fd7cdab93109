"""Low battery during a lone visit, through the production intake: the real application,
views and scheduler over a real store, a fake clock.

'Where you are lone working, ensure that you collect the SOS device from reception, ensure
that it is operational and taken on the visit.' (policy 001) 'carry a charged mobile
phone' (policy 004)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from device_gateway.messages import DeviceReading, parse_device_message
from service.application.device_intake import DeviceIntake, Outcome
from tests.visit_worlds import VisitWorld, at

CONTACT_CENTRE = "+441702000010"
JONES = "+447700900001"


class Fob:
    """Sam Jones's SOS fob, its readings recorded as the gateway records them."""

    def __init__(self, world: VisitWorld, device: str = "sos-0001") -> None:
        self.world, self.device = world, device
        self.intake = DeviceIntake(world.app)
        self._ids = itertools.count(1)

    def sends(self, kind: str, **fields: Any) -> None:
        payload = json.dumps({"id": f"{kind}-{next(self._ids)}", **fields}).encode()
        reading = parse_device_message(f"lw/v1/dev/{self.device}/{kind}", payload)
        assert isinstance(reading, DeviceReading), reading
        [result] = self.intake.record([reading])
        assert result.outcome is Outcome.RECORDED
        self.world.settle()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[VisitWorld]:
    w = VisitWorld(sqlite_url)
    yield w
    w.close()


def low_battery_alerts(w: VisitWorld) -> list[dict[str, Any]]:
    w.projector.catch_up()
    return [a for a in w.views.find("alert") if a["kind"] == "low_battery"]


def sam_out_alone(w: VisitWorld, fob: Fob) -> UUID:
    """Sam Jones, alone, 09:30 to 10:30, signed out with the fob at 80%."""
    w.clock.set(at(9, 20))
    visit = w.authorised("lone-battery", ["s-jones"], at(9, 30))
    fob.sends("heartbeat", battery=80)
    w.depart(visit)
    return visit


def test_a_low_battery_during_a_lone_visit_raises_one_amber_alert(world: VisitWorld) -> None:
    fob = Fob(world)
    visit = sam_out_alone(world, fob)
    world.clock.set(at(9, 40))
    fob.sends("battery", battery=20)  # the school's low_battery_below is 20: not below it
    assert low_battery_alerts(world) == []

    world.clock.set(at(9, 42))
    fob.sends("battery", battery=19)
    [alert] = low_battery_alerts(world)
    assert (alert["severity"], alert["device"], alert["staff"]) == ("amber", "sos-0001", "s-jones")
    assert alert["cause"]["visit"] == str(visit) and alert["cause"]["battery"] == 19
    told = world.notifications(alert_id=alert["id"])
    assert [n["to"] for n in told] == [CONTACT_CENTRE]
    assert "device battery low during a visit - Sam Jones (device sos-0001)" in told[0]["body"]

    for minute, battery in ((44, 17), (46, 12)):  # not repeated for every reading
        world.clock.set(at(9, minute))
        fob.sends("heartbeat", battery=battery)
    fob.sends("battery", battery=5)
    assert len(low_battery_alerts(world)) == 1
    assert world.notifications(to=JONES) == []

    board = world.board(visit)
    assert board["low_battery_noticed"] == {"at": at(9, 42).isoformat(), "battery": 19, "below": 20}
    assert board["battery"] == 5
    said = [(r["source"], r["summary"]) for r in world.timeline(visit)]
    assert (
        "scheduler",
        "device sos-0001 battery 19% (below the school's 20%): low-battery alert",
    ) in said, said


def test_a_low_battery_before_sign_out_or_after_return_raises_nothing(world: VisitWorld) -> None:
    """'a fob charging in a drawer at school is nobody's emergency'."""
    fob = Fob(world)
    world.clock.set(at(9, 0))
    fob.sends("battery", battery=8)  # not on a visit
    visit = sam_out_alone(world, fob)
    world.clock.set(at(9, 50))
    world.text(JONES, "BACK")
    assert world.board(visit)["state"] == "returned"
    fob.sends("battery", battery=6)
    assert low_battery_alerts(world) == []


def test_a_pair_visit_watches_no_device_battery(world: VisitWorld) -> None:
    """A pair needs no SOS device, so Priya's fob running low on a pair visit is not an alert."""
    fob = Fob(world, device="sos-0003")
    world.clock.set(at(9, 20))
    visit = world.authorised("pair-battery", ["p-patel", "r-ross"], at(9, 30))
    world.depart(visit, by="p-patel")
    fob.sends("battery", battery=4)
    assert low_battery_alerts(world) == []
