"""'SOS, fall and duress never wait behind heartbeats': an SOS published in the middle of
a 2,000-message heartbeat burst is recorded and notified before the burst has drained.

The one timed assertion of the suite, stated as an order of recorded positions: the
SOS's Alert.Raised comes before the last heartbeat, and the first SMS was asked for
while heartbeats were still waiting.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from service.adapters.notifiers.console_notifier import ConsoleNotifier
from service.config import Settings
from service.container import Container
from tests.brokers import own_mosquitto
from tests.harness import eventually, service_in_process

BURST = 2000


class WatchingNotifier(ConsoleNotifier):
    """Notes how many heartbeats were recorded when each SMS went out."""

    def __init__(self) -> None:
        super().__init__()
        self.container: Container | None = None
        self.heartbeats_at_send: list[int] = []

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        assert self.container is not None
        self.heartbeats_at_send.append(self.container.gateway.stats["kind:heartbeat"])
        return await super().send_sms(to=to, body=body, key=key)


def publish_burst(port: int, prefix: str) -> float:
    """1,000 heartbeats, an SOS, 1,000 heartbeats, as fast as the broker takes them."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"burst-{prefix}", protocol=mqtt.MQTTv311
    )
    client.max_inflight_messages_set(BURST + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = f"{prefix}lw/v1/dev/sos-0001/"
    infos = []
    sos_at = 0.0
    for n in range(BURST):
        if n == BURST // 2:
            sos_at = time.monotonic()
            infos.append(client.publish(topic + "sos", b'{"id": "burst-sos"}', qos=1))
        infos.append(client.publish(topic + "heartbeat", json.dumps({"id": f"hb-{n}"}), qos=1))
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return sos_at


def positions(container: Container) -> tuple[int, int, int]:
    """(Alert.Raised, first Notification.Requested, last heartbeat) positions."""
    raised = requested = last_heartbeat = 0
    for record in container.app.recorder.select_notifications(start=1, limit=100_000):
        if record.topic.endswith(":Alert.Raised"):
            raised = raised or record.id
        elif record.topic.endswith(":Notification.Requested"):
            requested = requested or record.id
        elif record.topic.endswith(":DeviceMessage.Received"):
            event: Any = container.app.mapper.to_domain_event(record)
            if event.kind == "heartbeat":
                last_heartbeat = record.id
    return raised, requested, last_heartbeat


async def test_an_sos_in_a_heartbeat_burst_is_recorded_and_notified_before_it_drains(
    tmp_path: Path, topic_prefix: str, run_id: str, postgres_url: str
) -> None:
    import asyncio

    notifier = WatchingNotifier()
    with own_mosquitto(tmp_path / "broker") as port:
        settings = Settings(
            database_url=postgres_url,
            mqtt_url=f"mqtt://127.0.0.1:{port}",
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=f"lw-gw-{run_id}",
        )
        async with service_in_process(settings, notifier=notifier) as container:
            notifier.container = container
            started = time.monotonic()
            sos_at = await asyncio.to_thread(publish_burst, port, topic_prefix)
            stats = container.gateway.stats
            await eventually(
                lambda: stats["kind:heartbeat"] == BURST, timeout=60, what="the burst recorded"
            )
            drained = time.monotonic()
            await eventually(lambda: notifier.heartbeats_at_send, what="the SOS notified")
            raised, requested, last_heartbeat = positions(container)
            print(
                f"\nburst of {BURST} heartbeats + 1 SOS: drained in {drained - started:.2f}s "
                f"({BURST / (drained - started):.0f} msg/s); batches={stats['batches']} "
                f"max batch={stats['batch_max']}; SOS published at +{sos_at - started:.2f}s; "
                f"positions: Alert.Raised={raised} Notification.Requested={requested} "
                f"last heartbeat={last_heartbeat}; heartbeats recorded at first SMS: "
                f"{notifier.heartbeats_at_send[0]}"
            )
            assert 0 < raised < last_heartbeat
            assert 0 < requested < last_heartbeat
            assert notifier.heartbeats_at_send[0] < BURST, "the SMS waited for the whole burst"
            assert stats["recorded"] == BURST + 1
