"""Red alerts reach the school's alarm receiving centre over SIA DC-09 (INTERFACES §9),
tested against pysiaalarm (Home Assistant's DC-09 receiver) playing the ARC: plain and
AES-encrypted, TCP and UDP; an ARC that is down, one that NAKs, and supervision polls.

"Sent until the ARC answers ACK; NAK and silence are retried with backoff; still failing
after 30 s raises a red arc_unreachable alert on the console. Every try and answer is
recorded on the alert's timeline." (the tests shorten the 30 s)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import yaml

from service.adapters.directory_file import parse_directory
from service.application.device_intake import DeviceIntake
from service.bootstrap import build
from service.clock import Clock, SystemClock
from service.config import Settings
from service.container import Container
from service.domain import ids
from service.domain.alerts.alert import Outcome
from service.lifecycle import running
from service.records.timeline import timeline
from service.workers.arc_sender import ArcTiming
from simulators.arc import ArcReceiver, sos_to_arc
from simulators.scenarios import SCENARIOS, ScenarioRun
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.devices import Devices
from tests.harness import eventually, forget_session
from tests.worlds import DIRECTORY

KEY_128 = "0123456789ABCDEF"
KEY_256 = "0123456789abcdef0123456789ABCDEF"


class SkewedClock(SystemClock):
    """A service whose clock is off: the ARC will find its timestamps outside the window."""

    def __init__(self, skew: timedelta) -> None:
        self.skew = skew

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew


@contextlib.asynccontextmanager
async def service_with_arc(
    database_url: str,
    arc: dict[str, Any],
    *,
    clock: Clock | None = None,
    unreachable_after: float = 30.0,
    supervision: float = 3600.0,
    settings: Settings | None = None,
) -> AsyncIterator[Container]:
    """The real service (without `settings` naming a broker, devices go through the
    gateway's own parse and intake), its school `lancaster` sending to `arc`, device
    sos-0001 in zone 7, short backoff."""
    data = yaml.safe_load(DIRECTORY.read_text())
    data["schools"][0]["arc"] = arc
    data["devices"][0]["zone"] = 7
    timing = ArcTiming(
        backoff=(0.05, 0.1, 0.2),
        unreachable_after=unreachable_after,
        answer_within=0.5,
        supervision=supervision,
    )
    c = build(settings or Settings(database_url=database_url), clock=clock, arc_timing=timing)
    c.app.import_directory(parse_directory(data))
    try:
        async with running(c, with_mqtt=settings is not None):
            if c.link is not None:
                assert await asyncio.to_thread(c.link.wait_connected, 10), "gateway not connected"
            yield c
    finally:
        c.close()


async def press(c: Container, **fields: Any) -> UUID:
    """Sam Jones presses SOS on sos-0001; the alert's id."""
    devices = Devices(DeviceIntake(c.app))
    result = await asyncio.to_thread(devices.press, "sos-0001", **fields)
    assert result.alert_id is not None
    return result.alert_id


def rows(c: Container, alert_id: UUID) -> list[dict[str, Any]]:
    return timeline(c.app, c.views, f"alert:{alert_id}")


def tries(c: Container, alert_id: UUID) -> list[dict[str, Any]]:
    return [r for r in rows(c, alert_id) if r["event"] == "ArcMessage.Tried"]


def acknowledged(c: Container, alert_id: UUID) -> list[dict[str, Any]]:
    return [r for r in tries(c, alert_id) if r["data"]["acknowledged"]]


def unreachable_alerts(c: Container, **cause: Any) -> list[dict[str, Any]]:
    return [
        a
        for a in c.views.find("alert")
        if a["kind"] == "arc_unreachable" and all(a["cause"].get(k) == v for k, v in cause.items())
    ]


@pytest.mark.parametrize(
    ("udp", "key"),
    [(False, None), (False, KEY_128), (True, KEY_256)],
    ids=["tcp-plain", "tcp-aes128", "udp-aes256"],
)
async def test_an_sos_reaches_the_arc_with_zone_location_and_text_and_its_restoral_on_resolve(
    sqlite_url: str, udp: bool, key: str | None
) -> None:
    async with (
        ArcReceiver(key=key, udp=udp) as arc,
        service_with_arc(sqlite_url, arc.directory_entry()) as c,
    ):
        alert_id = await press(c, lat=51.5392, lon=0.7123)
        async with asyncio.timeout(10):
            alarm = await arc.wait_for("PA")
        assert (alarm.event.account, alarm.event.ri, alarm.event.encrypted) == (
            "4271",
            "7",
            key is not None,
        )
        assert alarm.extended == {
            "X": "E0.71230",
            "Y": "N51.53920",
            "I": f"Sam Jones {ids.short_code(alert_id)}",
        }
        await eventually(lambda: acknowledged(c, alert_id), what="the ACK on the alert's timeline")
        (requested,) = [r for r in rows(c, alert_id) if r["event"] == "ArcMessage.Requested"]
        assert "PA (zone 7)" in requested["summary"] and (key or "no key") not in str(requested)
        assert "ACK in" in tries(c, alert_id)[0]["summary"]

        # Acknowledging is not the end of the alarm for the ARC; resolving is.
        await asyncio.to_thread(c.app.acknowledge_alert, alert_id, by="dsl1", via="console")
        await asyncio.to_thread(
            c.app.resolve_alert, alert_id, outcome=Outcome.SAFE, note="rang her", by="dsl1"
        )
        async with asyncio.timeout(10):
            restoral = await arc.wait_for("PR")
        assert restoral.event.ri == "7"
        assert [r.code for r in arc.received if r.code != "RP"] == ["PA", "PR"]  # RP: polls
        assert arc.counts["error_crc"] == arc.counts["error_format"] == 0
        assert c.arc is not None and c.arc.problems() == []


async def test_an_arc_that_is_down_is_retried_with_backoff_then_arc_unreachable_then_closed_when_it_answers(
    sqlite_url: str,
) -> None:
    port = free_port()  # nothing listens here yet
    arc_entry = {"url": f"dc09+tcp://127.0.0.1:{port}", "account": "4271"}
    async with service_with_arc(sqlite_url, arc_entry, unreachable_after=1.0) as c:
        assert c.arc is not None and c.health is not None
        alert_id = await press(c)
        unreachable = await eventually(
            lambda: unreachable_alerts(c, alert=str(alert_id)),
            what="the arc_unreachable alert",
        )
        (down,) = unreachable
        assert (down["severity"], down["state"], down["school"]) == ("red", "raised", "lancaster")
        failed = tries(c, alert_id)
        assert len(failed) >= 3 and all(not t["data"]["acknowledged"] for t in failed)
        assert all("no answer" in t["summary"] for t in failed)
        gaps = [
            (b["recorded_at"] - a["recorded_at"]).total_seconds()
            for a, b in itertools.pairwise(failed)
        ]
        assert gaps[0] >= 0.05 and gaps[-1] >= 0.1  # backoff between tries, growing
        ok, body = await c.health.check()
        assert not ok and any(r.startswith("arc: lancaster") for r in body["reasons"])
        assert body["checks"]["arc"]["links"]["lancaster"]["ok"] is False
        # Still sending: the ARC comes back and acknowledges; the console's alert is closed,
        # saying so, and its own timeline shows the outage and the answer that ended it.
        async with ArcReceiver(port=port) as arc:
            async with asyncio.timeout(10):
                await arc.wait_for("PA")
            await eventually(
                lambda: [
                    a
                    for a in unreachable_alerts(c, alert=str(alert_id))
                    if a["state"] == "resolved"
                ],
                what="arc_unreachable closed",
            )
            (closed,) = unreachable_alerts(c, alert=str(alert_id))
            assert closed["resolved_by"] == "system:arc" and "answered again" in closed["note"]
            story = [r["event"] for r in rows(c, UUID(closed["id"]))]
            assert story[0] == "Alert.Raised" and "ArcMessage.Unreachable" in story
            assert story.index("ArcMessage.Tried") < story.index("Alert.Resolved")
            await eventually(lambda: c.arc.problems() == [], what="health well again")


async def test_a_nak_for_a_clock_out_of_the_window_is_answered_by_taking_the_arcs_clock(
    sqlite_url: str,
) -> None:
    """DC-09: a NAK carries the receiver's time; the transmitter resends with it."""
    clock = SkewedClock(timedelta(0))
    async with (
        ArcReceiver(key=KEY_128) as arc,
        service_with_arc(sqlite_url, arc.directory_entry(), clock=clock) as c,
    ):
        await arc.wait_for("RP")  # the first poll, with the clock still right
        clock.skew = timedelta(minutes=-10)  # pysiaalarm's window is -40 s/+20 s
        alert_id = await press(c)
        async with asyncio.timeout(10):
            await arc.wait_for("PA")
        await eventually(lambda: acknowledged(c, alert_id), what="the ACK after the NAK")
        answers = [t["data"]["answer"] for t in tries(c, alert_id)]
        assert answers == ["NAK", "ACK"]
        assert "receiver's clock" in tries(c, alert_id)[0]["summary"]
        assert arc.counts["error_timestamp"] == 1
        assert unreachable_alerts(c) == []


async def test_supervision_polls_keep_the_link_checked_and_a_silent_arc_shows_on_health(
    sqlite_url: str,
) -> None:
    port = free_port()
    async with (
        ArcReceiver(port=port) as arc,
        service_with_arc(
            sqlite_url, arc.directory_entry(), supervision=0.2, unreachable_after=0.5
        ) as c,
    ):
        assert c.arc is not None and c.health is not None
        async with asyncio.timeout(10):
            poll = await arc.wait_for("RP")  # pysiaalarm reads a NULL as RP
        assert poll.event.message_type.value == "NULL"
        await eventually(
            lambda: c.arc.report()["links"].get("lancaster", {}).get("acks", 0) >= 2,
            what="polls acknowledged",
        )
        ok, body = await c.health.check()
        assert body["checks"]["arc"]["links"]["lancaster"]["ok"] is True
        await arc.stop()
        await eventually(lambda: c.arc.problems(), what="the silent ARC on health")
        down = await eventually(
            lambda: unreachable_alerts(c, supervision=True), what="the link's alert"
        )
        ok, body = await c.health.check()
        assert not ok and any("arc: lancaster" in r for r in body["reasons"])
        await arc.start()
        await eventually(
            lambda: [
                a for a in unreachable_alerts(c, supervision=True) if a["state"] == "resolved"
            ],
            what="the link's alert closed when polls are answered again",
        )
        assert down[0]["severity"] == "red"
        await eventually(lambda: c.arc.problems() == [], what="health well again")


async def test_an_alarm_the_arc_never_acknowledged_is_sent_again_after_a_restart(
    sqlite_url: str,
) -> None:
    port = free_port()
    arc_entry = {"url": f"dc09+tcp://127.0.0.1:{port}", "account": "4271", "key": KEY_128}
    async with service_with_arc(sqlite_url, arc_entry) as c:
        alert_id = await press(c)
        await eventually(lambda: tries(c, alert_id), what="a try, unanswered")
    async with (
        ArcReceiver(port=port, key=KEY_128) as arc,
        service_with_arc(sqlite_url, arc_entry) as c,
    ):
        async with asyncio.timeout(10):
            alarm = await arc.wait_for("PA")
        assert alarm.extended["I"].endswith(ids.short_code(alert_id))
        await eventually(lambda: acknowledged(c, alert_id), what="the ACK after the restart")
        assert [r.code for r in arc.received].count("PA") == 1


@pytest.mark.mosquitto
async def test_the_sos_to_arc_scenario_plays_the_arc_for_a_device_on_the_broker(
    sqlite_url: str, mosquitto_url: str, topic_prefix: str, run_id: str
) -> None:
    """`lonewatch simulate scenario sos-to-arc`: a device presses SOS over MQTT, and the ARC
    (pysiaalarm, started by the scenario where the school's `arc:` points) gets PA."""
    url = f"dc09+tcp://127.0.0.1:{free_port()}"
    client_id = f"lw-gw-{run_id}"
    settings = Settings(
        database_url=sqlite_url,
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    run = ScenarioRun(host=MOSQUITTO_HOST, port=MOSQUITTO_PORT, prefix=topic_prefix, quiet=0.5)
    try:
        async with service_with_arc(
            sqlite_url, {"url": url, "account": "4271"}, settings=settings
        ) as c:
            assert "sos-to-arc" in SCENARIOS
            result = await asyncio.to_thread(sos_to_arc, run, url)
            assert result.ok, "\n".join(result.lines())
            assert "zone 7" in result.notes[-1]
            (alert,) = [a for a in c.views.find("alert") if a["kind"] == "sos"]
            await eventually(lambda: acknowledged(c, UUID(alert["id"])), what="the ACK recorded")
    finally:
        forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


async def test_a_restoral_waits_for_its_alarm_so_the_arc_hears_them_in_order(
    sqlite_url: str,
) -> None:
    port = free_port()
    arc_entry = {"url": f"dc09+tcp://127.0.0.1:{port}", "account": "4271"}
    async with service_with_arc(sqlite_url, arc_entry) as c:
        alert_id = await press(c)
        await eventually(lambda: tries(c, alert_id), what="the alarm tried while the ARC is down")
        await asyncio.to_thread(
            c.app.resolve_alert, alert_id, outcome=Outcome.FALSE_ALARM, note="pocket", by="dsl1"
        )
        await eventually(  # the sender has seen the resolve while the alarm is unacknowledged
            lambda: c.views.get("alert", str(alert_id))["state"] == "resolved",  # type: ignore[index]
            what="the resolve in the views",
        )
        assert not acknowledged(c, alert_id)
        async with ArcReceiver(port=port) as arc:
            async with asyncio.timeout(10):
                await arc.wait_for("PR")
            assert [r.code for r in arc.received if r.code != "RP"] == ["PA", "PR"]
