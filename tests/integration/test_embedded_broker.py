"""The embedded amqtt broker of `LW_MQTT_URL=embedded`: devices reach the gateway through it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from amqtt.errors import BrokerError

from device_gateway.embedded_broker import EmbeddedBroker
from device_gateway.inbound import InboundMessage
from device_gateway.messages import device_topic_filter
from device_gateway.mqtt_link import MqttLink
from service.config import MqttEndpoint
from tests.conftest import free_port
from tests.integration.test_mqtt_link import WAIT, Publisher


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(port=free_port())
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


def endpoint_of(broker: EmbeddedBroker) -> MqttEndpoint:
    return MqttEndpoint(broker.host, broker.port, embedded=True)


def amqtt_in_flight(broker: EmbeddedBroker, client_id: str) -> int:
    """Messages amqtt has sent to a client and not had acknowledged (it has no public API)."""
    session, _ = broker._broker._sessions[client_id]  # type: ignore[union-attr]
    return int(session.inflight_out_count)


async def test_a_device_message_reaches_the_gateway_and_is_acked(
    broker: EmbeddedBroker, topic_prefix: str, run_id: str
) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[InboundMessage] = asyncio.Queue()
    client_id = f"lwtest-{run_id}-gw"
    link = MqttLink(
        endpoint_of(broker),
        client_id=client_id,
        subscriptions=[device_topic_filter(topic_prefix)],
        # The hand-off the gateway uses: paho's thread to the event loop.
        on_message=lambda message: loop.call_soon_threadsafe(inbox.put_nowait, message),
        protocol="v311",
    )
    link.start()
    publisher: Publisher | None = None
    try:
        assert await asyncio.to_thread(link.wait_connected, WAIT)
        publisher = await asyncio.to_thread(
            Publisher, endpoint_of(broker), f"lwtest-{run_id}-fob", "v311"
        )
        topic = f"{topic_prefix}lw/v1/dev/fob-1/sos"
        await asyncio.to_thread(publisher.publish, topic, b'{"id": "s1"}')

        message = await asyncio.wait_for(inbox.get(), WAIT)
        assert (message.topic, message.payload, message.qos) == (topic, b'{"id": "s1"}', 1)
        assert amqtt_in_flight(broker, client_id) == 1

        link.ack(message.mid, message.qos)  # from the asyncio thread, as the gateway does
        async with asyncio.timeout(WAIT):
            while amqtt_in_flight(broker, client_id):
                await asyncio.sleep(0.01)
    finally:
        if publisher is not None:
            await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(link.stop)


async def test_stop_releases_the_port() -> None:
    port = free_port()
    embedded = EmbeddedBroker(port=port)
    await embedded.start()
    await embedded.stop()
    await embedded.stop()  # idempotent

    # SO_REUSEADDR as any server sets it: binding fails only if something still listens.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()

    again = EmbeddedBroker(port=port)
    await again.start()
    await again.stop()


async def test_a_taken_port_fails_start_with_a_broker_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        embedded = EmbeddedBroker(port=sock.getsockname()[1])
        with pytest.raises(BrokerError):
            await embedded.start()
        await embedded.stop()  # nothing was started: a no-op
