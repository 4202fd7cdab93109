"""What the gateway sees of a JetStream consumer: a message with a topic and an id to ack
by, acknowledged once, after the gateway says so (never on delivery)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from device_gateway.mqtt_link import InboundMessage
from device_gateway.nats_link import NatsLink


@dataclass
class Metadata:
    num_delivered: int


@dataclass
class FakeMsg:
    """The part of nats-py's Msg the link uses."""

    subject: str
    data: bytes
    metadata: Metadata
    acks: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.acks.append(self.subject)


async def test_a_pulled_message_reaches_the_gateway_unacknowledged_and_is_acked_once() -> None:
    delivered: list[InboundMessage] = []
    link = NatsLink("devices", durables=["d"], deliver=delivered.append)
    link.attach(object())  # type: ignore[arg-type]  # only acks are sent here
    first = FakeMsg("site.lw.v1.dev.sos-1.sos", b"{}", Metadata(1))
    again = FakeMsg("site.lw.v1.dev.sos-1.heartbeat", b"{}", Metadata(3))
    link._hand_over(first)  # type: ignore[arg-type]
    link._hand_over(again)  # type: ignore[arg-type]
    assert [(m.topic, m.dup) for m in delivered] == [
        ("site/lw/v1/dev/sos-1/sos", False),
        ("site/lw/v1/dev/sos-1/heartbeat", True),
    ]
    await asyncio.sleep(0)
    assert first.acks == [] and link.in_flight == 2, "nothing is acknowledged on delivery"
    link.ack(delivered[0].mid, 1)
    link.ack(delivered[0].mid, 1)  # a second ack of the same message is dropped
    await asyncio.sleep(0)
    assert first.acks == ["site.lw.v1.dev.sos-1.sos"]
    assert again.acks == [] and link.in_flight == 1


def test_a_link_is_not_connected_before_its_consumers_answer() -> None:
    link = NatsLink("alarms", durables=["a", "b"], deliver=lambda _: None)
    assert not link.connected
    link._answering("a", True)
    assert not link.wait_connected(0)
    link._answering("b", True)
    assert link.wait_connected(0)
