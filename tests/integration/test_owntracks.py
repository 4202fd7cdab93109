"""OwnTracks phones over the real Mosquitto into the running service (INTERFACES.md section 8).

'A location is a location reading (and a battery reading); a `leave` while the visitor's
current visit is at the property records that they left (source `owntracks`), so "left the
property" needs no text; an `enter` is recorded only. Duplicates (same device, `_type` and
`tst`) are recorded once.' Payloads are the app's own (owntracks/booklet), sent by the
phone simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from aiohttp import web

from service.adapters.directory_file import load_directory
from service.application import visits
from service.bootstrap import Container, build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.domain import ids
from service.domain.devices.messages import DeviceMessage
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.states import VisitState
from service.domain.visits.visit import Visit
from simulators.owntracks_phone import OwnTracksPhone
from simulators.scenarios import VIA_OTHER_SYSTEMS, ScenarioRun
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.harness import eventually, forget_session
from tests.visit_worlds import HAZARDS, VISITS_DIRECTORY, at

PROPERTY = (51.54216, 0.66871)


@dataclass
class Running:
    container: Container
    phone: OwnTracksPhone
    visit: UUID

    def device(self) -> dict[str, Any]:
        self.container.projector.catch_up()
        return self.container.views.get("device", "phone-priya") or {}

    def visit_now(self) -> Visit:
        found = self.container.app.repository.get(self.visit)
        assert isinstance(found, Visit)
        return found

    def recorded(self, msg_id: str) -> DeviceMessage | None:
        key = ids.device_message_id("phone-priya", msg_id)
        if not self.container.app.exists(key):
            return None
        found = self.container.app.repository.get(key)
        assert isinstance(found, DeviceMessage)
        return found

    def rejected(self, reason: str) -> int:
        return self.container.gateway.stats[f"rejected:{reason}"]


def _as(username: str, role: Role) -> Principal:
    return Principal(username=username, school="lancaster", role=role)


def priya_at_the_property(c: Container) -> UUID:
    plan = visits.VisitPlan(
        ref="owntracks-leave",
        school="lancaster",
        staff=["p-patel", "r-ross"],
        pupil_ref="UPN-0042",
        address="14 Mountdale Gardens, Leigh-on-Sea",
        purpose="safe_and_well",
        planned_start=at(9, 30),
        expected_leave=at(10, 15),
        expected_return=at(10, 30),
    )
    visit = visits.plan_visit(c.app, plan, _as("dsl1", Role.DSL))
    visits.assess_risk(c.app, visit.id, _as("dsl1", Role.DSL), HAZARDS)
    visits.authorise(c.app, visit.id, _as("head1", Role.HEADTEACHER))
    visits.depart(c.app, c.views, visit.id, _as("p-patel", Role.STAFF))
    visits.move(c.app, visit.id, "arrive", by="staff:p-patel", via="test", principal=None)
    c.projector.catch_up()
    return visit.id


def _directory(tmp_path: Path, base: str) -> Path:
    data = yaml.safe_load(VISITS_DIRECTORY.read_text())
    data["devices"].append(
        {"id": "phone-priya", "kind": "phone", "staff": "p-patel", "owntracks": base}
    )
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
async def running(
    postgres_url: str, mosquitto_url: str, topic_prefix: str, run_id: str, tmp_path: Path
) -> AsyncIterator[Running]:
    base = f"owntracks/{run_id}/priya"
    client_id = f"lw-owntracks-{run_id}"
    port = free_port()
    settings = Settings(
        database_url=postgres_url,
        http_addr=f"127.0.0.1:{port}",
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    container = build(settings, clock=FakeClock(at(9, 0)))
    container.app.import_directory(load_directory(_directory(tmp_path, base)))
    container.projector.catch_up()
    visit = priya_at_the_property(container)
    runner = web.AppRunner(create_app(container), access_log=None)
    await runner.setup()
    phone: OwnTracksPhone | None = None
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        assert container.phones_link is not None, "the directory's phone is subscribed"
        assert await asyncio.to_thread(container.phones_link.wait_connected, 10)
        phone = await asyncio.to_thread(
            OwnTracksPhone, MOSQUITTO_HOST, MOSQUITTO_PORT, base, client_id=f"phone-{run_id}"
        )
        yield Running(container, phone, visit)
    finally:
        if phone is not None:
            phone.close()
        await runner.cleanup()
        container.close()
        for session in (client_id, f"{client_id}-alarm", f"{client_id}-owntracks"):
            forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, session)


async def test_a_location_is_a_location_and_battery_reading_recorded_once(
    running: Running,
) -> None:
    sent = await asyncio.to_thread(
        running.phone.location, *PROPERTY, acc=12, batt=64, tst=1764580000
    )
    await asyncio.to_thread(running.phone.location, *PROPERTY, acc=12, batt=64, tst=1764580000)

    message = await eventually(lambda: running.recorded("owntracks-location-1764580000"))
    assert message.kind == "location"
    assert message.fields["source"] == "owntracks"
    assert (message.fields["lat"], message.fields["lon"], message.fields["battery"]) == (
        sent["lat"],
        sent["lon"],
        64,
    )
    device = await eventually(lambda: running.device().get("location") and running.device())
    assert device["battery"] == 64
    assert device["location"]["map"].startswith("https://www.openstreetmap.org/?mlat=51.54216")
    assert device["counts"] == {"location": 1}, "the repeat (same _type and tst) is recorded once"


async def test_leaving_the_property_region_records_that_they_left(running: Running) -> None:
    """'so "left the property" needs no text'."""
    await asyncio.to_thread(
        running.phone.transition, "enter", "Mountdale Gardens", *PROPERTY, tst=1764580100
    )
    assert (await eventually(lambda: running.recorded("owntracks-transition-1764580100"))).fields[
        "event"
    ] == "enter"
    assert running.visit_now().state is VisitState.ARRIVED, "an enter is recorded only"

    await asyncio.to_thread(
        running.phone.transition, "leave", "Mountdale Gardens", *PROPERTY, tst=1764580200
    )

    await eventually(lambda: running.visit_now().state is VisitState.LEFT, what="the visit left")
    app = running.container.app
    stored = app.recorder.select_events(running.visit, desc=True, limit=1)[0]
    left = app.mapper.to_domain_event(stored)
    assert type(left).__name__ == "LeftProperty"
    assert (left.by, left.via) == (  # type: ignore[attr-defined]
        "device:phone-priya",
        "owntracks: left region 'Mountdale Gardens'",
    )
    message = running.recorded("owntracks-transition-1764580200")
    assert message is not None and message.fields["desc"] == "Mountdale Gardens"


async def test_the_apps_last_will_is_recorded_and_is_not_a_sign_of_life(running: Running) -> None:
    await asyncio.to_thread(running.phone.location, *PROPERTY, tst=1764580300)
    seen = (await eventually(lambda: running.device().get("last_seen") and running.device()))[
        "last_seen"
    ]

    await asyncio.to_thread(running.phone.drop_off)

    lwt = f"owntracks-lwt-{running.phone.connected_at}"
    message = await eventually(lambda: running.recorded(lwt), what="the last will")
    assert message.kind == "offline" and message.fields["owntracks_type"] == "lwt"
    device = running.device()
    assert device["last_seen"] == seen and device["last_kind"] == "offline"


async def test_bad_payloads_are_refused_with_a_reason_and_the_next_one_still_goes_in(
    running: Running,
) -> None:
    phone = running.phone
    await asyncio.to_thread(phone.publish, phone.base, b"{not json")
    await asyncio.to_thread(phone.publish, phone.base, {"_type": "location", "lat": 51.5, "tst": 1})
    await asyncio.to_thread(
        phone.publish, phone.base, {"_type": "location", "lat": 95.0, "lon": 0.1, "tst": 2}
    )
    await asyncio.to_thread(
        phone.publish, f"{phone.base}/event", {"_type": "transition", "event": "wander", "tst": 3}
    )
    await asyncio.to_thread(phone.location, *PROPERTY, tst=1764580400)

    await eventually(lambda: running.recorded("owntracks-location-1764580400"), what="the good one")
    assert running.rejected("bad_json") == 1
    assert running.rejected("bad_field") == 2  # no lon; an event that is not enter/leave
    assert running.rejected("out_of_range") == 1  # lat 95
    for msg_id in ("owntracks-location-1", "owntracks-location-2", "owntracks-transition-3"):
        assert running.recorded(msg_id) is None


async def test_the_owntracks_leave_scenario_moves_the_visit(running: Running) -> None:
    """`lonewatch simulate scenario owntracks-leave`: a phone arrives, leaves, drops off."""
    run = ScenarioRun(host=MOSQUITTO_HOST, port=MOSQUITTO_PORT, device=running.phone.base)

    result = await asyncio.to_thread(VIA_OTHER_SYSTEMS["owntracks-leave"], run)

    assert result.ok, result.lines()
    await eventually(lambda: running.visit_now().state is VisitState.LEFT, what="the visit left")
