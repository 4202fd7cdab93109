"""MqttLink against the real Mosquitto: delivery, manual ack, redelivery and the persistent session.

The no-loss rule (INTERFACES.md section 2): "A message is acknowledged to the broker
only after it is durably recorded." These tests hold the link to the broker
behaviour that rule depends on.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from device_gateway.inbound import InboundMessage
from device_gateway.messages import cmd_topic, device_topic_filter
from device_gateway.mqtt_link import MqttLink
from service.config import MqttEndpoint, Settings

WAIT = 10.0  # seconds; every wait ends as soon as its condition holds


class Inbox:
    """Collects what paho's thread delivers; tests wait on a condition, never a fixed sleep."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.messages: list[InboundMessage] = []

    def __call__(self, message: InboundMessage) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[InboundMessage]], bool]) -> list[InboundMessage]:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.messages), WAIT), self.messages
            return list(self.messages)

    def wait_count(self, count: int) -> list[InboundMessage]:
        return self.wait_for(lambda messages: len(messages) >= count)

    def wait_payload(self, payload: bytes) -> list[InboundMessage]:
        return self.wait_for(lambda messages: any(m.payload == payload for m in messages))

    def payloads(self) -> list[bytes]:
        with self._cond:
            return [m.payload for m in self.messages]


class Publisher:
    """A plain paho client, as a device would be: clean session, QoS 1, waits for PUBACK."""

    def __init__(
        self, endpoint: MqttEndpoint, client_id: str, protocol: Literal["v5", "v311"] = "v5"
    ) -> None:
        version = MQTTProtocolVersion.MQTTv5 if protocol == "v5" else MQTTProtocolVersion.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version
        )
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self._client.publish(topic, payload, qos=qos)
        info.wait_for_publish(WAIT)
        assert info.is_published(), f"no PUBACK for {topic}"

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def forget_session(endpoint: MqttEndpoint, client_id: str) -> None:
    """Leave the shared broker tidy: a clean start with expiry 0 discards the session."""
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_connect = lambda *_: connected.set()
    client.connect(endpoint.host, endpoint.port, clean_start=True)
    client.loop_start()
    try:
        assert connected.wait(WAIT), f"could not clean up the session of {client_id}"
    finally:
        client.disconnect()
        client.loop_stop()


class Links:
    """Builds MqttLinks for one test; stops them and forgets their sessions afterwards."""

    def __init__(self, endpoint: MqttEndpoint, run_id: str) -> None:
        self.endpoint = endpoint
        self.run_id = run_id
        self._links: list[MqttLink] = []
        self._client_ids: set[str] = set()
        self._publishers: list[Publisher] = []

    def client_id(self, name: str) -> str:
        client_id = f"lwtest-{self.run_id}-{name}"
        self._client_ids.add(client_id)
        return client_id

    def start(
        self,
        client_id: str,
        subscriptions: list[str],
        on_message: Callable[[InboundMessage], None],
        **kw: Any,
    ) -> MqttLink:
        link = MqttLink(
            self.endpoint,
            client_id=client_id,
            subscriptions=subscriptions,
            on_message=on_message,
            **kw,
        )
        self._links.append(link)
        link.start()
        assert link.wait_connected(WAIT), "link did not connect and subscribe"
        return link

    def publisher(self, protocol: Literal["v5", "v311"] = "v5") -> Publisher:
        publisher = Publisher(self.endpoint, f"lwtest-{self.run_id}-pub", protocol)
        self._publishers.append(publisher)
        return publisher

    def close(self) -> None:
        for link in self._links:
            link.stop()
        for publisher in self._publishers:
            publisher.close()
        for client_id in self._client_ids:
            forget_session(self.endpoint, client_id)


@pytest.fixture
def links(mosquitto_url: str, run_id: str) -> Iterator[Links]:
    made = Links(Settings(mqtt_url=mosquitto_url).mqtt, run_id)
    try:
        yield made
    finally:
        made.close()


def test_a_qos1_message_from_a_device_reaches_on_message(links: Links, topic_prefix: str) -> None:
    inbox = Inbox()
    link = links.start(links.client_id("gw"), [device_topic_filter(topic_prefix)], inbox)

    links.publisher().publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b'{"id": "s1"}')

    [message] = inbox.wait_count(1)
    assert message.topic == f"{topic_prefix}lw/v1/dev/fob-1/sos"
    assert message.payload == b'{"id": "s1"}'
    assert (message.qos, message.dup) == (1, False)
    link.ack(message.mid, message.qos)
    assert link.connected
    assert link.stats["connects"] == 1


def test_an_unacknowledged_message_comes_back_with_dup_after_a_restart(
    links: Links, topic_prefix: str
) -> None:
    """Only a recorded message is acknowledged; one that was not must be delivered again."""
    client_id = links.client_id("gw")
    subscriptions = [device_topic_filter(topic_prefix)]
    publisher = links.publisher()
    first_inbox = Inbox()
    first = links.start(client_id, subscriptions, first_inbox)

    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"recorded")
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"lost in a crash")
    recorded, unrecorded = first_inbox.wait_count(2)
    assert (recorded.payload, unrecorded.payload) == (b"recorded", b"lost in a crash")
    first.ack(recorded.mid, recorded.qos)
    first.stop()

    second_inbox = Inbox()
    links.start(client_id, subscriptions, second_inbox)
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/heartbeat", b"marker")
    # The broker resends its in-flight messages right after CONNACK, so once the
    # marker is here, any redelivery of "recorded" would have arrived before it.
    messages = second_inbox.wait_payload(b"marker")
    again = [m for m in messages if m.payload != b"marker"]
    assert [(m.payload, m.dup) for m in again] == [(b"lost in a crash", True)]


def test_a_dropped_connection_reconnects_resubscribes_and_redelivers(
    links: Links, topic_prefix: str
) -> None:
    inbox = Inbox()
    link = links.start(links.client_id("gw"), [device_topic_filter(topic_prefix)], inbox)
    publisher = links.publisher()
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"sos")
    [delivered] = inbox.wait_count(1)

    sock = link._client.socket()  # fault injection: the network drops, the process lives
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)

    messages = inbox.wait_count(2)
    redelivered = messages[1]
    assert (redelivered.payload, redelivered.dup) == (b"sos", True)
    assert link.wait_connected(WAIT)
    assert (link.stats["connects"], link.stats["disconnects"]) == (2, 1)
    link.ack(redelivered.mid, redelivered.qos)
    # The late ack of the first delivery names the same packet id: sent once only.
    link.ack(delivered.mid, delivered.qos)
    assert link.stats["stale_acks"] == 1

    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/checkin", b"after the drop")
    assert inbox.wait_payload(b"after the drop")


def test_messages_sent_while_the_gateway_is_down_wait_for_it(
    links: Links, topic_prefix: str
) -> None:
    """The FIELD-NOTES session trap: paho's default clean start would lose these."""
    client_id = links.client_id("gw")
    subscriptions = [device_topic_filter(topic_prefix)]
    links.start(client_id, subscriptions, Inbox()).stop()

    publisher = links.publisher()
    sent = [f"while down {n}".encode() for n in range(3)]
    for payload in sent:
        publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", payload)

    inbox = Inbox()
    link = links.start(client_id, subscriptions, inbox)
    messages = inbox.wait_count(3)
    assert [m.payload for m in messages] == sent
    for message in messages:
        link.ack(message.mid, message.qos)


def test_the_same_works_over_mqtt_311(links: Links, topic_prefix: str) -> None:
    client_id = links.client_id("gw311")
    subscriptions = [device_topic_filter(topic_prefix)]
    links.start(client_id, subscriptions, Inbox(), protocol="v311").stop()
    publisher = links.publisher("v311")
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"while down")

    inbox = Inbox()
    link = links.start(client_id, subscriptions, inbox, protocol="v311")
    [message] = inbox.wait_count(1)
    assert message.payload == b"while down"
    link.stop()

    inbox = Inbox()
    links.start(client_id, subscriptions, inbox, protocol="v311")
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/heartbeat", b"marker")
    messages = inbox.wait_payload(b"marker")
    assert [(m.payload, m.dup) for m in messages[:1]] == [(b"while down", True)]


def test_the_service_does_not_receive_its_own_commands(links: Links, topic_prefix: str) -> None:
    """noLocal: our cmd topic matches our own device filter."""
    inbox = Inbox()
    link = links.start(links.client_id("gw"), [device_topic_filter(topic_prefix)], inbox)
    device_inbox = Inbox()
    links.start(links.client_id("fob"), [cmd_topic(topic_prefix, "fob-1")], device_inbox)

    link.publish(cmd_topic(topic_prefix, "fob-1"), b'{"type": "alert_received"}')
    [command] = device_inbox.wait_count(1)
    assert command.payload == b'{"type": "alert_received"}'

    links.publisher().publish(f"{topic_prefix}lw/v1/dev/fob-1/heartbeat", b"marker")
    assert inbox.wait_payload(b"marker")
    assert inbox.payloads() == [b"marker"]


def test_a_failing_handler_is_counted_and_the_link_keeps_going(
    links: Links, topic_prefix: str
) -> None:
    inbox = Inbox()

    def handler(message: InboundMessage) -> None:
        if message.payload == b"poison":
            raise RuntimeError("hand-off failed")
        inbox(message)

    link = links.start(links.client_id("gw"), [device_topic_filter(topic_prefix)], handler)
    publisher = links.publisher()
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"poison")
    publisher.publish(f"{topic_prefix}lw/v1/dev/fob-1/sos", b"fine")

    assert inbox.wait_payload(b"fine")
    assert link.stats["handler_errors"] == 1
    assert link.connected


def test_stop_is_idempotent_and_harmless_before_start(links: Links) -> None:
    link = MqttLink(
        links.endpoint,
        client_id=links.client_id("idle"),
        subscriptions=[],
        on_message=Inbox(),
    )
    link.stop()
    link.start()
    assert link.wait_connected(WAIT)
    link.stop()
    link.stop()
    assert not link.connected
    with pytest.raises(RuntimeError, match="twice"):
        link.start()
