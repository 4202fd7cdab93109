"""Traccar's forwarding through the real service: HTTP in, the Twilio double out, PostgreSQL.

'Lonewatch takes them from Traccar, which decodes those protocols ... Both land in the same
intake as our own MQTT devices: the same validation, dedupe, alerts, views and replay.'
(INTERFACES.md section 8). Bodies are Traccar's own shapes (`EventData`, `PositionData`):
one recorded literally (tests/fixtures/traccar_event_sos.json), the rest made by the
forwarder simulator from the same models.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession, web

from service.adapters.directory_file import load_directory
from service.application.integrations import issue_integration_token
from service.bootstrap import Container, build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.domain import ids
from service.domain.devices.messages import DeviceMessage
from simulators.scenarios import VIA_OTHER_SYSTEMS, ScenarioRun
from simulators.traccar_forwarder import TraccarDevice, TraccarForwarder
from simulators.twilio_double import TwilioDouble
from tests.conftest import free_port
from tests.harness import eventually

FIXTURES = Path(__file__).parent.parent / "fixtures"
SID = "AC" + "7acca2" * 5 + "ab"
TOKEN = "traccar-auth-token"
FROM = "+441702999999"
CONTACT_CENTRE = ("+441702000010", "+441702000014")
DSL = "+441702000011"
WATCH = "358000000000007"
START = FakeClock().now()


@dataclass
class Running:
    container: Container
    double: TwilioDouble
    base: str
    token: str
    forwarder: TraccarForwarder
    watch: TraccarDevice
    session: ClientSession

    def alerts(self) -> list[dict[str, Any]]:
        self.container.projector.catch_up()
        return self.container.views.find("alert")

    def device(self) -> dict[str, Any]:
        self.container.projector.catch_up()
        return self.container.views.get("device", "watch-07") or {}

    def message(self, msg_id: str) -> DeviceMessage:
        found = self.container.app.repository.get(ids.device_message_id("watch-07", msg_id))
        assert isinstance(found, DeviceMessage)
        return found

    async def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        async with self.session.post(self.base + path, json=body, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


def _directory(tmp_path: Path) -> Path:
    data = yaml.safe_load((FIXTURES / "directory.yaml").read_text())
    data["devices"].append(
        {"id": "watch-07", "kind": "sos_watch", "staff": "s-jones", "traccar_unique_id": WATCH}
    )
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
async def running(postgres_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    """The whole service on a real port over its own PostgreSQL database; Twilio is the double."""
    async with TwilioDouble(SID, TOKEN) as double:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=postgres_url,
            http_addr=f"127.0.0.1:{port}",
            public_url=base,
            twilio_account_sid=SID,
            twilio_auth_token=TOKEN,
            twilio_from_number=FROM,
            twilio_api_base=double.base_url,
        )
        container = build(settings, clock=FakeClock(START), backoff=(0.01, 0.01, 0.01))
        container.app.import_directory(load_directory(_directory(tmp_path)))
        token = issue_integration_token(container.app, "traccar")
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            forwarder = TraccarForwarder(
                events_url=f"{base}/integrations/traccar/events",
                positions_url=f"{base}/integrations/traccar/positions",
                header=f"Authorization: Bearer {token}",
                retry_delay=0.05,
                retry_count=3,
            )
            async with ClientSession() as session:
                yield Running(
                    container, double, base, token, forwarder, TraccarDevice(WATCH, 7), session
                )
        finally:
            await runner.cleanup()
            container.close()


async def test_an_sos_from_traccar_texts_the_contact_centre_with_the_address(
    running: Running,
) -> None:
    """Traccar's `alarm` event with `sos` raises the red SOS alert; the SMS says where."""
    body = json.loads((FIXTURES / "traccar_event_sos.json").read_text())

    status, answer = await running.post("/integrations/traccar/events", body)

    assert status == 200, answer
    # 2xx only after the commit: the alarm is in the store by the time Traccar hears back.
    message = running.message("traccar-alarm-88001-sos")
    assert message.kind == "sos"
    assert message.fields["source"] == "traccar"
    assert message.fields["traccar_event"] == "5501"
    told = (await running.double.wait_for_messages(1))[0]  # two desks: the first
    assert told["form"]["To"] in CONTACT_CENTRE
    text = told["form"]["Body"]
    assert "SOS pressed - Sam Jones (device watch-07)" in text
    assert "Location: 14 Mountdale Gardens, Leigh-on-Sea SS9 4AW (within 8 m)." in text
    assert "51.54216" not in text, "an address where known, never a bare pair of numbers"
    [alert] = running.alerts()
    assert (alert["kind"], alert["severity"], alert["device"]) == ("sos", "red", "watch-07")
    assert alert["cause"]["location"]["address"].startswith("14 Mountdale Gardens")
    assert alert["cause"]["location"]["map"].startswith("https://www.openstreetmap.org/")
    # ... and the replay (the recorded timeline) says where, in the same words.
    reader = running.container.app.issue_token("reception1")
    async with running.session.get(
        f"{running.base}/api/v1/timeline",
        params={"alert": alert["id"]},
        headers={"Authorization": f"Bearer {reader}"},
    ) as response:
        timeline = await response.json()
    summaries = [row["summary"] for row in timeline["events"]]
    assert "sos alert raised at 14 Mountdale Gardens, Leigh-on-Sea SS9 4AW (within 8 m)" in (
        summaries
    )


async def test_a_location_without_an_address_is_sent_as_a_map_link(running: Running) -> None:
    f, watch = running.forwarder, running.watch
    position = f.position(watch, START, lat=51.5381, lon=0.7123, accuracy=12.0)
    await running.post(
        "/integrations/traccar/events",
        f.event(watch, "alarm", START, position=position, alarm="fallDown"),
    )

    told = (await running.double.wait_for_messages(1))[0]  # two desks: the first
    text = told["form"]["Body"]
    assert "fall detected" in text
    assert (
        "Location: https://www.openstreetmap.org/?mlat=51.53810&mlon=0.71230&zoom=17 (within 12 m)."
        in text
    )


async def test_an_alarm_forwarded_as_event_and_position_and_again_raises_one_alert(
    running: Running,
) -> None:
    """'Each Traccar event id and position id is recorded once, however often it is
    forwarded ... An event and the position it carries (or a later position) reporting the
    same alarm raise one alert, not two.'"""
    f, watch = running.forwarder, running.watch
    position = f.position(watch, START, lat=51.54, lon=0.67, battery_level=55, alarm="sos")
    event = f.event(watch, "alarm", START, position=position, alarm="sos")

    assert await f.send_event(running.session, event) == 200
    assert await f.send_event(running.session, event) == 200  # a repeat: 2xx like the first
    assert await f.send_position(running.session, f.position_body(watch, position)) == 200
    assert await f.send_position(running.session, f.position_body(watch, position)) == 200
    later = f.position(watch, START + timedelta(seconds=5), lat=51.54, lon=0.67, alarm="sos")
    status, answer = await running.post(
        "/integrations/traccar/positions", f.position_body(watch, later)
    )

    assert status == 200
    [alert] = await eventually(running.alerts, what="the SOS alert")
    assert [e["alert_id"] for e in answer["recorded"] if e["kind"] == "sos"] == [alert["id"]]
    await running.double.wait_for_messages(2)
    sent_to = sorted(m["form"]["To"] for m in running.double.messages)
    assert sent_to == sorted(CONTACT_CENTRE), "one alert: each contact-centre desk told once"
    device = running.device()
    assert device["counts"] == {"sos": 2, "location": 2}
    assert device["battery"] == 55


async def test_a_position_is_a_location_and_battery_reading(running: Running) -> None:
    f, watch = running.forwarder, running.watch
    position = f.position(watch, START, lat=51.55, lon=0.70, accuracy=5.0, battery_level=81)

    status, answer = await running.post(
        "/integrations/traccar/positions", f.position_body(watch, position)
    )

    assert status == 200
    assert answer["recorded"] == [
        {"id": f"traccar-position-{position['id']}", "kind": "location", "outcome": "recorded"}
    ]
    device = running.device()
    assert device["battery"] == 81
    assert (device["location"]["lat"], device["location"]["lon"]) == (51.55, 0.70)
    assert device["location"]["map"].startswith("https://www.openstreetmap.org/?mlat=51.55000")
    assert running.alerts() == []


async def test_device_offline_is_recorded_and_is_not_a_sign_of_life(running: Running) -> None:
    """`deviceOffline` -> the device went silent: it must not look like the device was seen."""
    f, watch = running.forwarder, running.watch
    await running.post(
        "/integrations/traccar/positions",
        f.position_body(watch, f.position(watch, START, lat=51.5, lon=0.7)),
    )
    seen = running.device()["last_seen"]
    running.container.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]

    status, answer = await running.post(
        "/integrations/traccar/events", f.event(watch, "deviceOffline", START, event_id=777)
    )

    assert status == 200
    assert answer["recorded"][0]["kind"] == "offline"
    device = running.device()
    assert device["last_seen"] == seen
    assert device["last_kind"] == "offline"
    assert running.alerts() == []


async def test_low_battery_alarm_is_a_battery_reading(running: Running) -> None:
    f, watch = running.forwarder, running.watch
    position = f.position(watch, START, lat=51.5, lon=0.7, battery_level=9)
    await running.post(
        "/integrations/traccar/events",
        f.event(watch, "alarm", START, position=position, alarm="lowBattery"),
    )

    device = running.device()
    assert (device["battery"], device["low_battery"]) == (9, True)


async def test_other_events_are_recorded_without_an_alert(running: Running) -> None:
    f, watch = running.forwarder, running.watch
    status, _ = await running.post(
        "/integrations/traccar/events", f.event(watch, "geofenceExit", START, event_id=4242)
    )
    assert status == 200
    assert running.message("traccar-event-4242").fields["traccar_type"] == "geofenceExit"
    assert running.alerts() == []


async def test_without_a_traccar_token_nothing_is_recorded(running: Running) -> None:
    """'A missing or unknown token: 401; a valid token that is not a Traccar integration
    token: 403; nothing recorded either way.'"""
    body = json.loads((FIXTURES / "traccar_event_sos.json").read_text())
    person = running.container.app.issue_token("reception1")

    assert (await running.post("/integrations/traccar/events", body, token=""))[0] == 401
    assert (await running.post("/integrations/traccar/events", body, token="lw_made_up"))[0] == 401
    status, problem = await running.post("/integrations/traccar/events", body, token=person)
    assert status == 403
    assert "--integration traccar" in problem["detail"]
    assert running.alerts() == []
    assert not running.container.app.exists(
        ids.device_message_id("watch-07", "traccar-alarm-88001-sos")
    )
    # ... and a Traccar token opens nothing of the API.
    async with running.session.get(
        running.base + "/api/v1/alerts", headers={"Authorization": f"Bearer {running.token}"}
    ) as response:
        assert response.status == 401


async def test_an_unknown_unique_id_is_404_and_bad_bodies_say_what_to_fix(
    running: Running,
) -> None:
    f = running.forwarder
    stranger = TraccarDevice("999999999999999", 99)
    status, problem = await running.post(
        "/integrations/traccar/events", f.event(stranger, "alarm", START, alarm="sos")
    )
    assert status == 404
    assert "traccar_unique_id '999999999999999'" in problem["detail"]

    status, problem = await running.post("/integrations/traccar/positions", {"position": 1})
    assert status == 400
    assert "'position'" in problem["detail"]

    bad = f.position(running.watch, START, lat=123.0, lon=0.7)
    status, problem = await running.post(
        "/integrations/traccar/positions", f.position_body(running.watch, bad)
    )
    assert status == 422
    assert "field 'lat' must be a number -90 to 90" in problem["detail"]
    assert running.alerts() == []


async def test_the_traccar_sos_scenario_plays_against_the_running_service(
    running: Running,
) -> None:
    """`lonewatch simulate scenario traccar-sos` (what Traccar itself can see)."""
    run = ScenarioRun(device=WATCH, http=running.base, token=running.token)

    result = await asyncio.to_thread(VIA_OTHER_SYSTEMS["traccar-sos"], run)

    assert result.ok, result.lines()
    [alert] = await eventually(running.alerts, what="the SOS alert")
    assert alert["kind"] == "sos"
    await running.double.wait_for_messages(1)


async def test_the_call_and_the_next_tier_say_where_too(running: Running) -> None:
    """A red alert is called as well as texted; the call reads the address out, and the
    next tier's text (made later, from the recorded alert) says the same place."""
    running.double.script(calls=["answered", "answered"])  # picked up, no key pressed
    body = json.loads((FIXTURES / "traccar_event_sos.json").read_text())
    await running.post("/integrations/traccar/events", body)

    await running.double.wait_for_calls(1)
    answered = await eventually(
        lambda: [c for c in running.double.callbacks if "/voice/alert" in c["url"]],
        what="the answered call's TwiML",
    )
    assert "Address: 14 Mountdale Gardens, Leigh-on-Sea SS9 4AW." in answered[0]["body"]
    running.container.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
    running.container.scheduler.wake()
    texts = await eventually(
        lambda: [m for m in running.double.messages if m["form"]["To"] == DSL], what="tier 2"
    )
    assert (
        "Location: 14 Mountdale Gardens, Leigh-on-Sea SS9 4AW (within 8 m)."
        in (texts[0]["form"]["Body"])
    )
