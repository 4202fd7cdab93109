"""'Poison never blocks' (issue 10) on the real broker and store.

What was seen: a JSON `\\ud800` escape in `id` passed validation and then raised in uuid5;
the group was never acknowledged, good neighbours were lost, and 1,000 such messages
filled the broker's in-flight window so that no SOS got through. After a restart the
poison came back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.messages import DeviceReading
from service.adapters.directory_file import load_directory
from service.application.device_intake import Intaken
from service.bootstrap import build
from service.config import Settings
from service.container import Container
from service.domain.devices.rejected import RAW_CAP_BYTES
from service.lifecycle import running
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.harness import Device, eventually, forget_session
from tests.integration.test_gateway import alert_docs, running_service
from tests.worlds import DIRECTORY

__all__ = ["running_service"]

LONE_SURROGATE_ID = b'{"id": "\\ud800"}'  # the JSON escape, as a device's encoder sent it


def publish_many(port: int, prefix: str, messages: Sequence[tuple[str, bytes]]) -> None:
    """Publish (topic below the prefix, payload) pairs at QoS 1 as fast as the broker takes them."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"flood-{prefix}", protocol=mqtt.MQTTv311
    )
    client.max_inflight_messages_set(len(messages) + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(prefix + topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


# -- validation at the edge, through the broker ------------------------------------------


async def test_what_cannot_be_stored_is_refused_with_a_reason_and_good_traffic_continues(
    running_service: Any,
) -> None:
    container, device, _ = running_service
    await device.send("heartbeat", LONE_SURROGATE_ID)
    await device.send("message", b'{"id": "t-1", "text": "on my way \\udc00"}')
    await device.send("heartbeat", b'{"id": "h-nan", "battery": NaN}')
    await device.send("location", b'{"lat": 91, "lon": 0}')
    await device.send("heartbeat", b'{"ts": 253402300800000}')  # year 10000
    await device.send("heartbeat", {"id": "good-1", "battery": 80})
    await eventually(lambda: container.gateway.stats["recorded"] == 1, what="the good heartbeat")
    stats = container.gateway.stats
    assert stats["rejected:unstorable_text"] == 2, dict(stats)
    assert stats["rejected:not_finite"] == 1, dict(stats)
    assert stats["rejected:out_of_range"] == 1, dict(stats)
    assert stats["rejected:bad_date"] == 1, dict(stats)
    assert stats["batches_failed"] == 0, "refused at the edge, before any commit"


async def test_an_sos_with_an_unusable_id_still_raises_the_alarm(running_service: Any) -> None:
    """'An alarm is never refused over a bad optional field' (docs/devices.md): the id is
    dropped, so the press is recorded without it and answered."""
    container, device, _ = running_service
    await device.send("sos", b'{"id": "\\ud800", "battery": 50}')
    (command,) = await eventually(lambda: device.commands, what="alert_received")
    assert command["type"] == "alert_received"
    (alert,) = await eventually(lambda: alert_docs(container), what="the alert")
    assert alert["id"] == command["alert_id"]
    assert container.gateway.stats["rejected_fields"] == 1


async def test_a_thousand_poison_messages_do_not_keep_any_sos_from_its_alert(
    running_service: Any, topic_prefix: str, run_id: str
) -> None:
    container, fob_1, _ = running_service
    host, port = container.settings.mqtt.host, container.settings.mqtt.port
    fob_2 = await Device.connect(host, port, topic_prefix, "sos-0002", f"dev2-{run_id}")
    try:
        poison = [("lw/v1/dev/sos-0001/heartbeat", LONE_SURROGATE_ID)] * 1000
        await asyncio.to_thread(publish_many, port, topic_prefix, poison)
        presses = [(fob_2, "a"), (fob_1, "b"), (fob_2, "c"), (fob_1, "d"), (fob_2, "e")]
        for fob, n in presses:
            await fob.send("sos", {"id": f"press-{n}"})
        await eventually(
            lambda: len(fob_1.commands) == 2 and len(fob_2.commands) == 3,
            timeout=60,
            what="alert_received for every press",
        )
        assert {c["type"] for c in fob_1.commands + fob_2.commands} == {"alert_received"}
        alerts = await eventually(lambda: len(alert_docs(container)) == 2 and alert_docs(container))
        assert {a["device"] for a in alerts} == {"sos-0001", "sos-0002"}
        await eventually(
            lambda: container.gateway.stats["rejected:unstorable_text"] == 1000,
            timeout=60,
            what="every poison message refused and counted",
        )
    finally:
        fob_2.close()


# -- isolation after a failed commit ---------------------------------------------------------


@contextlib.asynccontextmanager
async def gateway_service(settings: Settings) -> AsyncIterator[tuple[Container, list[int]]]:
    """The service in process, noting the size of every group commit that failed."""
    container = build(settings)
    container.app.import_directory(load_directory(DIRECTORY))
    failed_groups: list[int] = []
    record = container.gateway.intake.record

    def noting(readings: Sequence[DeviceReading]) -> list[Intaken]:
        try:
            return record(readings)
        except Exception:
            failed_groups.append(len(readings))
            raise

    container.gateway.intake.record = noting  # type: ignore[method-assign]
    try:
        async with running(container):
            assert container.link is not None and container.alarm_link is not None
            assert await asyncio.to_thread(container.link.wait_connected, 10)
            assert await asyncio.to_thread(container.alarm_link.wait_connected, 10)
            yield container, failed_groups
    finally:
        container.close()


def rejected_events(container: Container) -> list[Any]:
    return [
        container.app.mapper.to_domain_event(record)
        for record in container.app.recorder.select_notifications(start=1, limit=100_000)
        if record.topic.endswith(":RejectedDeviceMessage.Rejected")
    ]


async def test_a_poison_message_in_a_group_is_rejected_its_neighbours_recorded_and_it_never_returns(
    postgres_url: str,
    topic_prefix: str,
    run_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A gap in validation, as the one issue 10 found: lone surrogates get through, and fail
    # for real in uuid5 (an `id`) or in the event transcoder (a `text`).
    monkeypatch.setattr("device_gateway.messages.storable", lambda name, value: None)
    client_id = f"lw-gw-{run_id}"
    settings = Settings(
        database_url=postgres_url,
        mqtt_url=f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}",
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    poison_text = json.dumps({"id": "t-1", "text": "\ud800" + "x" * 900, "pad": "y" * 900}).encode()
    assert len(poison_text) > RAW_CAP_BYTES
    backlog: list[tuple[str, bytes]] = []
    for n in range(200):
        backlog.append(("lw/v1/dev/sos-0001/heartbeat", b'{"id": "hb-%d"}' % n))
        if n == 50:
            backlog.append(("lw/v1/dev/sos-0001/heartbeat", LONE_SURROGATE_ID))
        if n == 150:
            backlog.append(("lw/v1/dev/sos-0001/message", poison_text))
    backlog.append(("lw/v1/dev/sos-0002/sos", b'{"id": "\\udfff"}'))
    device = await Device.connect(
        MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, "sos-0002", f"dev-{run_id}"
    )
    try:
        async with gateway_service(settings):
            pass  # the sessions now exist at the broker: what follows queues there
        # Blocking is fine here, with no service running (and `running` has shut down
        # the loop's default executor).
        publish_many(MOSQUITTO_PORT, topic_prefix, backlog)

        async with gateway_service(settings) as (container, failed_groups):
            stats = container.gateway.stats
            await eventually(
                lambda: stats["recorded"] == 201 and stats["rejected:unstorable"] == 2,
                timeout=60,
                what="every good message recorded and both poison messages rejected",
            )
            assert max(failed_groups) > 1, "the poison was never in a group with others"
            assert stats["alarms_salvaged"] == 1
            assert stats["kind:heartbeat"] == 200
            (command,) = await eventually(lambda: device.commands, what="alert_received")
            assert command["type"] == "alert_received"
            rejected = {event.kind: event for event in rejected_events(container)}
            assert set(rejected) == {"heartbeat", "message"}
            assert base64.b64decode(rejected["heartbeat"].raw_base64) == LONE_SURROGATE_ID
            message = rejected["message"]
            assert (message.raw_size, message.device) == (len(poison_text), "sos-0001")
            assert base64.b64decode(message.raw_base64) == poison_text[:RAW_CAP_BYTES]
            assert "UnicodeEncodeError" in message.reason

        async with gateway_service(settings) as (container, failed_groups):
            await asyncio.to_thread(
                publish_many,
                MOSQUITTO_PORT,
                topic_prefix,
                [("lw/v1/dev/sos-0001/heartbeat", b'{"id": "after-restart"}')],
            )
            stats = container.gateway.stats
            await eventually(lambda: stats["recorded"] == 1, what="the new heartbeat")
            assert failed_groups == [], "a poison message came back after the restart"
            assert stats["rejected:unstorable"] == 0
            assert len(rejected_events(container)) == 2
    finally:
        device.close()
        forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)
