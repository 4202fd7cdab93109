"""Two messages in flight under one packet id: each is acknowledged after its own commit.

Mosquitto 2.0 numbers the messages it queues for a client as it queues them, so with more
than 65,535 queued (a flood faster than the store) it delivers a second message under an
id whose first message we have not acknowledged yet. Measured in a 30,000/s heartbeat
flood: ~1 in 3 messages. Each of them must get its PUBACK; only an ack for a message not
delivered on this connection (or one acknowledged already) is stale.
"""

from __future__ import annotations

from device_gateway.inbound import InboundMessage
from device_gateway.mqtt_link import MqttLink
from service.config import MqttEndpoint

PUBACK_7 = bytes.fromhex("40020007")


def _link(delivered: list[InboundMessage]) -> MqttLink:
    """Not started: only the bookkeeping between delivery and acknowledgement is used."""
    return MqttLink(
        MqttEndpoint("127.0.0.1", 1),
        client_id="reused-ids",
        subscriptions=["lw/v1/dev/+/+"],
        on_message=delivered.append,
    )


def _queued(link: MqttLink) -> bytes:
    return b"".join(bytes(packet["packet"]) for packet in link._client._out_packet)


def test_two_deliveries_under_one_id_are_each_acknowledged_in_a_group() -> None:
    delivered: list[InboundMessage] = []
    link = _link(delivered)
    link._take_publish(b"lw/v1/dev/fob-1/heartbeat", b'{"id":"a"}', 7, 1, False)
    link._take_publish(b"lw/v1/dev/fob-2/heartbeat", b'{"id":"b"}', 7, 1, False)
    assert [m.mid for m in delivered] == [7, 7]
    link.ack_all([(7, 1), (7, 1)])
    assert _queued(link) == PUBACK_7 * 2
    assert link.stats["stale_acks"] == 0
    link.ack_all([(7, 1)])  # a third: no third message was delivered under 7
    assert _queued(link) == PUBACK_7 * 2
    assert link.stats["stale_acks"] == 1


def test_the_second_delivery_is_acknowledged_after_its_own_commit() -> None:
    """One at a time (`ack`): the first ack leaves the second message unacknowledged."""
    delivered: list[InboundMessage] = []
    link = _link(delivered)
    link._take_publish(b"lw/v1/dev/fob-1/heartbeat", b"{}", 7, 1, False)
    link._take_publish(b"lw/v1/dev/fob-2/heartbeat", b"{}", 7, 1, False)
    link.ack(7, 1)
    link.ack(7, 1)
    link.ack(7, 1)
    assert link.stats["stale_acks"] == 1
