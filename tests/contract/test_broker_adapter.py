"""One contract for the gateway's broker adapters: Mosquitto's two sessions and NATS
JetStream's durable consumers behave the same to a device and to the store.

"A message is acknowledged to the broker only after it is durably recorded"; "the same
device and id are recorded once"; anything malformed "is rejected with a logged reason and
a counter, and never stops the gateway"; an SOS is answered on the device's `cmd` topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from device_gateway.nats_sessions import NatsPlan
from service.adapters.notifiers.console_notifier import ConsoleNotifier
from service.config import Settings
from service.container import Container
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.harness import Device, eventually, forget_session, service_in_process
from tests.nats_servers import make_stream, own_nats

__all__ = ["own_nats"]


@dataclass
class Broker:
    """How a test reaches one broker: the service's settings and a device's address."""

    name: str
    settings: Settings
    device_host: str
    device_port: int
    cleanup: Callable[[], None]


@pytest.fixture(params=["mosquitto", "nats"])
def broker(request: pytest.FixtureRequest, topic_prefix: str, run_id: str) -> Broker:
    database = request.getfixturevalue("postgres_url")
    if request.param == "mosquitto":
        client_id = f"lw-gw-{run_id}"
        return Broker(
            "mosquitto",
            Settings(
                database_url=database,
                mqtt_url=request.getfixturevalue("mosquitto_url"),
                mqtt_topic_prefix=topic_prefix,
                mqtt_client_id=client_id,
            ),
            MOSQUITTO_HOST,
            MOSQUITTO_PORT,
            lambda: forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id),
        )
    nats = request.getfixturevalue("own_nats")
    settings = Settings(
        database_url=database,
        mqtt_url=nats.url,
        mqtt_topic_prefix=topic_prefix,
        nats_stream=f"LW_TEST_{run_id}",
    )
    servers = settings.nats_servers
    assert servers is not None
    make_stream(servers, NatsPlan(settings.nats_stream, topic_prefix, 1), ack_wait=2.0)
    return Broker("nats", settings, "127.0.0.1", nats.mqtt_ports[0], lambda: None)


@pytest.fixture
async def device(broker: Broker, run_id: str) -> AsyncIterator[Device]:
    prefix = broker.settings.mqtt_topic_prefix
    dev = await Device.connect(
        broker.device_host, broker.device_port, prefix, "sos-0001", f"dev-{run_id}"
    )
    try:
        yield dev
    finally:
        dev.close()
    broker.cleanup()


def alerts(container: Container) -> list[dict[str, Any]]:
    return container.views.find("alert")


async def test_an_sos_is_recorded_once_and_answered_on_the_cmd_topic(
    broker: Broker, device: Device
) -> None:
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        await device.send("sos", {"id": "press-1"})
        answer = await eventually(lambda: device.commands, what="alert_received on cmd")
        assert answer[0]["type"] == "alert_received"
        assert answer[0]["id"] == "press-1", "the answer names the press it answers"
        found = await eventually(lambda: alerts(container), what="the alert in the view")
        assert [a["id"] for a in found] == [answer[0]["alert_id"]]
        assert container.gateway.stats["kind:sos"] == 1


async def test_a_repeated_sos_is_recorded_once_and_answered_each_time(
    broker: Broker, device: Device
) -> None:
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        for _ in range(3):  # a device repeats an SOS (same id) until alert_received
            await device.send("sos", {"id": "press-7"})
        # At least once: on a loaded machine NATS may deliver a copy again after its ack
        # wait, and that copy is answered too; what must hold is one recording, one alert.
        if broker.name == "mosquitto":  # commands go at QoS 1: every copy's answer arrives
            await eventually(lambda: len(device.commands) >= 3, what="an answer to each copy")
        else:
            # NATS sends commands at QoS 0 (docs/scale-out.md): an answer can be lost under
            # load (seen once in CI, 2 of 3 arrived). The device's rule covers it: it
            # repeats the press until an answer naming it arrives, as a real device does.
            for _ in range(20):
                if len(device.commands) >= 3:
                    break
                await device.send("sos", {"id": "press-7"})
                await asyncio.sleep(1.0)
            await eventually(lambda: len(device.commands) >= 3, what="answers to the copies")
        assert len({c["alert_id"] for c in device.commands}) == 1
        assert {c["id"] for c in device.commands} == {"press-7"}
        await eventually(lambda: container.gateway.stats["duplicates"] >= 2, what="duplicates")
        assert container.gateway.stats["kind:sos"] == 1
        await eventually(lambda: len(alerts(container)) >= 1, what="the alert in the view")
        assert len(alerts(container)) == 1


async def test_poison_is_rejected_with_a_reason_and_intake_continues(
    broker: Broker, device: Device
) -> None:
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        await device.send("sos", b"{not json")
        await device.send("heartbeat", b'{"id": "\\ud800"}')
        await device.send("teleport", {})
        await device.send("sos", {}, device="not-in-directory")
        await device.send("heartbeat", {"id": "after-the-poison", "battery": 80})
        stats = container.gateway.stats
        await eventually(lambda: stats["recorded"] == 1, what="the good heartbeat")
        for reason in ("bad_json", "unstorable_text", "unknown_kind", "unknown_device"):
            await eventually(lambda r=reason: stats[f"rejected:{r}"] == 1, what=reason)
        assert alerts(container) == []


async def test_a_message_is_acknowledged_only_after_its_commit(
    broker: Broker, device: Device
) -> None:
    """While the store refuses every commit the SOS is held, unacknowledged; a service that
    stops then leaves it with the broker, which gives it to the next one."""

    def store_down(*_: Any) -> Any:
        raise OperationalError("the store is down (test)")

    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as first:
        first.gateway.intake.record = store_down  # type: ignore[method-assign]
        await device.send("sos", {"id": "held-1"})
        await eventually(lambda: first.gateway.stats["store_retries"] >= 2, what="a held SOS")
        assert device.commands == []
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as second:
        answer = await eventually(
            lambda: device.commands, timeout=30, what="the SOS delivered again and recorded"
        )
        assert answer[0]["type"] == "alert_received"
        await eventually(lambda: len(alerts(second)) == 1, what="one alert")
        assert second.gateway.stats["kind:sos"] == 1


async def test_health_and_metrics_show_the_broker_connection(
    broker: Broker, device: Device
) -> None:
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        await eventually(
            lambda: container.alarm_link and container.alarm_link.connected, what="alarms"
        )
        _, body = await container.health.check()
        sessions = body["checks"]["broker"]["sessions"]
        assert sessions == {"devices": {"connected": True}, "alarms": {"connected": True}}
        if broker.name == "nats":
            assert body["checks"]["broker"]["kind"] == "nats"
            assert body["checks"]["broker"]["server"] == broker.settings.mqtt_url[7:]
        assert container.metrics is not None
        text = (await container.metrics.render()).decode()
        assert 'lonewatch_broker_session_connected{session="devices"} 1.0' in text
        assert 'lonewatch_broker_session_connected{session="alarms"} 1.0' in text


async def test_a_topic_with_a_level_too_many_or_too_few_is_refused_as_bad_topic(
    broker: Broker, device: Device
) -> None:
    """ "Anything else ... is rejected with a logged reason and a counter" (INTERFACES.md
    section 2): the ACL lets a device write anywhere under `lw/v1/dev/ID/#`, so a maker's
    `.../sos/press` or `.../ID` must reach the gateway and be refused, not vanish at the
    broker after its PUBACK."""
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        await device.send("sos/press", {"id": "deep-1"})
        await asyncio.to_thread(
            lambda: device.client.publish(
                f"{device.prefix}lw/v1/dev/{device.device_id}", b"{}", qos=1
            ).wait_for_publish(5)
        )
        await device.send("heartbeat", {"id": "beside-the-strays", "battery": 80})
        stats = container.gateway.stats
        await eventually(lambda: stats["rejected:bad_topic"] == 2, what="two bad_topic refusals")
        await eventually(lambda: stats["recorded"] == 1, what="the good heartbeat beside them")
        assert stats["kind:sos"] == 0 and alerts(container) == []


# Retain handling is an MQTT 5 subscription option; NATS speaks MQTT 3.1.1 only.
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_retained_message_is_not_replayed_as_new_when_the_gateway_reconnects(
    broker: Broker, device: Device
) -> None:
    """A device that sets the retain flag by mistake: its message is recorded when sent,
    and not again each time the gateway subscribes (a stale heartbeat would make a dead
    fob look alive after every restart)."""
    topic = f"{device.prefix}lw/v1/dev/{device.device_id}/heartbeat"

    def clear() -> None:  # a retained message outlives the test at the broker; empty clears it
        device.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)

    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as first:
        try:
            await asyncio.to_thread(
                lambda: device.client.publish(topic, b"{}", qos=1, retain=True).wait_for_publish(5)
            )
            await eventually(lambda: first.gateway.stats["recorded"] == 1, what="the live copy")
        except BaseException:
            await asyncio.to_thread(clear)
            raise
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as second:
        try:
            await device.send("checkin", {"id": "after-the-restart"})
            stats = second.gateway.stats
            await eventually(lambda: stats["kind:checkin"] == 1, what="the check-in")
            assert stats["kind:heartbeat"] == 0, "the retained heartbeat was recorded again"
        finally:
            await asyncio.to_thread(clear)


async def test_an_sos_reusing_a_heartbeats_id_still_raises_the_alert_it_names(
    broker: Broker, device: Device
) -> None:
    """A fob whose id counter restarts at a reboot, or counts per kind, sends an SOS with an
    id a heartbeat had. "The same device and id are recorded once" is about repeats of one
    message: an alarm must never be answered `alert_received` unless its alert exists."""
    async with service_in_process(broker.settings, notifier=ConsoleNotifier()) as container:
        await device.send("heartbeat", {"id": "77"})
        await eventually(lambda: container.gateway.stats["recorded"] == 1, what="the heartbeat")
        await device.send("sos", {"id": "77"})
        [answer] = await eventually(lambda: device.commands, what="an answer on cmd")
        assert answer["type"] == "alert_received"
        found = await eventually(lambda: alerts(container), timeout=5, what="the alert raised")
        assert [a["id"] for a in found] == [answer["alert_id"]]
