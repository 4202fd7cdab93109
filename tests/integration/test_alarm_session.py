"""'Alarms never wait behind anything' (issue 10): sos and fall have a broker session of
their own, so a heartbeat backlog at the broker does not stand between an SOS and its alert.

Measured before this session existed: under a heartbeat flood an SOS waited ~10 s (p50),
queued behind the backlog in the one session's queue (docs/gateway.md, "Two sessions").
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from device_gateway.messages import device_subscription
from device_gateway.mqtt_link import MqttLink
from service.config import MqttEndpoint, Settings
from service.container import Container
from tests.brokers import own_mosquitto
from tests.harness import Device, eventually, service_in_process
from tests.integration.test_gateway import alert_docs, running_service
from tests.integration.test_gateway_poison import publish_many

__all__ = ["running_service"]

BACKLOG = 5000


def heartbeats_before_the_alert(container: Container) -> tuple[int, int]:
    """(heartbeats recorded before the first Alert.Raised, heartbeats recorded in all)."""
    before, total, raised = 0, 0, False
    for record in container.app.recorder.select_notifications(start=1, limit=100_000):
        if record.topic.endswith(":Alert.Raised"):
            raised = True
        elif record.topic.endswith(":DeviceMessage.Received"):
            event: Any = container.app.mapper.to_domain_event(record)
            if event.kind == "heartbeat":
                total += 1
                before += not raised
    assert raised, "no alert was raised"
    return before, total


async def test_an_sos_behind_a_heartbeat_backlog_at_the_broker_is_recorded_before_it_drains(
    tmp_path: Path, topic_prefix: str, run_id: str, postgres_url: str
) -> None:
    with own_mosquitto(tmp_path / "broker") as port:
        settings = Settings(
            database_url=postgres_url,
            mqtt_url=f"mqtt://127.0.0.1:{port}",
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=f"lw-gw-{run_id}",
        )
        async with service_in_process(settings):
            pass  # the gateway's sessions exist at the broker: what follows queues there
        backlog = [("lw/v1/dev/sos-0001/heartbeat", b'{"id": "hb-%d"}' % n) for n in range(BACKLOG)]
        backlog.append(("lw/v1/dev/sos-0002/sos", b'{"id": "behind-the-backlog"}'))
        publish_many(port, topic_prefix, backlog)  # no service running: blocking is fine

        async with service_in_process(settings) as container:
            stats = container.gateway.stats
            await eventually(
                lambda: stats["kind:heartbeat"] == BACKLOG and stats["kind:sos"] == 1,
                timeout=120,
                what="the backlog and the SOS recorded",
            )
            before, total = heartbeats_before_the_alert(container)
        print(f"\nheartbeats recorded before the SOS's alert: {before} of {total}")
        assert total == BACKLOG
        # With one session the SOS sat behind the backlog until the in-flight window reached
        # it: 2,566 of 5,000 heartbeats were recorded first (measured on this machine).
        # With its own session it is delivered as soon as the alarm session connects.
        assert before < BACKLOG // 10, f"the SOS waited for {before} heartbeats"


async def test_an_alarm_is_recorded_once_though_both_sessions_receive_it(
    running_service: Any,
) -> None:
    """An SOS without an `id` cannot be deduplicated: the main session's copy is
    acknowledged without being recorded, since the alarm session has it too."""
    container, device, _ = running_service
    await device.send("sos", b"")
    await eventually(lambda: device.commands, what="alert_received")
    stats = container.gateway.stats
    await eventually(lambda: stats["alarm_copies_skipped"] == 1, what="the main session's copy")
    await device.send("heartbeat", {"id": "after"})
    await eventually(lambda: stats["kind:heartbeat"] == 1, what="a later heartbeat")
    assert stats["kind:sos"] == 1
    assert stats["alarms_via_main"] == 0
    assert len(device.commands) == 1


async def test_after_an_upgrade_alarms_queued_for_the_old_single_session_are_not_lost(
    tmp_path: Path, topic_prefix: str, run_id: str, postgres_url: str
) -> None:
    """The first start with an alarm session: the main session already holds alarms that
    the new alarm session never saw, so the main session records them itself."""
    client_id = f"lw-gw-{run_id}"
    with own_mosquitto(tmp_path / "broker") as port:
        old = MqttLink(
            MqttEndpoint("127.0.0.1", port),
            client_id=client_id,
            subscriptions=[device_subscription(topic_prefix)],
            on_message=lambda message: None,
        )
        old.start()
        assert old.wait_connected(10)
        old.stop()  # the old gateway stops; its session keeps what arrives
        publish_many(port, topic_prefix, [("lw/v1/dev/sos-0001/sos", b'{"id": "while-down"}')])
        settings = Settings(
            database_url=postgres_url,
            mqtt_url=f"mqtt://127.0.0.1:{port}",
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=client_id,
        )
        async with service_in_process(settings) as container:
            device = await Device.connect(
                "127.0.0.1", port, topic_prefix, "sos-0001", f"d-{run_id}"
            )
            try:
                (alert,) = await eventually(lambda: alert_docs(container), what="the SOS's alert")
                assert alert["device"] == "sos-0001"
                assert container.gateway.stats["alarms_via_main"] == 1
                # A new press, published now, reaches both sessions: recorded once.
                await device.send("sos", {"id": "after-upgrade"})
                await eventually(lambda: device.commands, what="alert_received for the new press")
                await asyncio.sleep(0.3)
                assert container.gateway.stats["kind:sos"] == 2
            finally:
                device.close()
