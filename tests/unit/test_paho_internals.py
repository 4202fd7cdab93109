"""The paho-mqtt internals device_gateway/paho_internals.py relies on (pinned >=2.1,<3):
each test here fails if paho changes what that module takes for granted."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import MQTTException, Properties

from device_gateway import mqtt_link  # installs PublishProperties, as the gateway does
from device_gateway.paho_internals import BufferedClient, PublishProperties, queue_pubacks

assert mqtt_link  # imported for its effect


def _publish_packet(properties: bytes) -> tuple[int, bytes]:
    """(fixed header byte, what follows the remaining length) of a QoS 1 MQTT 5 PUBLISH."""
    topic = b"lw/v1/dev/fob-1/heartbeat"
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", 7) + properties + b"{}"
    return 0x32, body


def _with_properties() -> tuple[Properties, bytes]:
    stock = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    stock.ContentType = "application/json"
    stock.MessageExpiryInterval = 60
    stock.UserProperty = ("a", "1")
    stock.UserProperty = ("b", "2")
    return stock, stock.pack()  # type: ignore[no-untyped-call]


def test_paho_decodes_a_publish_with_our_properties_class() -> None:
    header, body = _publish_packet(b"\x00")
    decoded = _packet.decode_publish(header, body, MQTTProtocolVersion.MQTTv5)
    assert type(decoded.properties) is PublishProperties  # paho still looks the name up there
    assert decoded.properties.isEmpty()  # type: ignore[no-untyped-call]
    assert str(decoded.properties) == "[]"
    assert decoded.payload == b"{}" and decoded.mid == 7


def test_a_publish_with_properties_reads_as_paho_reads_it() -> None:
    stock, packed = _with_properties()
    header, body = _publish_packet(packed)
    decoded = _packet.decode_publish(header, body, MQTTProtocolVersion.MQTTv5)
    expected = Properties(PacketTypes.PUBLISH).unpack(packed)[0]  # type: ignore[no-untyped-call]
    assert decoded.properties is not None
    assert decoded.properties.json() == expected.json() == stock.json()  # type: ignore[no-untyped-call]
    assert decoded.payload == b"{}"


def test_properties_hold_only_the_tables_we_share() -> None:
    """PublishProperties shares paho's three tables between objects: they must still be the
    only state a fresh Properties has, and equal to a fresh one's."""
    fresh = vars(Properties(PacketTypes.PUBLISH))  # type: ignore[no-untyped-call]
    ours = vars(PublishProperties(PacketTypes.PUBLISH))
    assert set(fresh) == {"packetType", "types", "names", "properties"}
    assert ours == fresh


def test_properties_set_afterwards_behave_as_pahos() -> None:
    ours = PublishProperties(PacketTypes.PUBLISH)
    ours.UserProperty = ("a", "1")
    ours.UserProperty = ("b", "2")
    assert ours.UserProperty == [("a", "1"), ("b", "2")]
    with pytest.raises(MQTTException):
        ours.SessionExpiryInterval = 5  # not a PUBLISH property, as paho says


def _client() -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="paho-internals",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )


def test_grouped_pubacks_are_the_bytes_paho_sends_one_by_one() -> None:
    mids = [1, 300, 65535]
    one_by_one = _client()
    for mid in mids:
        one_by_one.ack(mid, 1)
    expected = [dict(packet) for packet in one_by_one._out_packet]
    grouped = _client()
    queue_pubacks(grouped, mids)
    [packet] = grouped._out_packet
    assert packet["packet"] == b"".join(bytes(p["packet"]) for p in expected)
    assert packet["command"] == expected[0]["command"] == mqtt.PUBACK
    assert packet["qos"] == expected[0]["qos"] and packet["pos"] == 0
    assert packet["to_process"] == 4 * len(mids)


def test_paho_writes_a_grouped_packet_whole() -> None:
    """paho's writer takes an out-packet that is not a PUBLISH as bytes to send, nothing more."""
    client = _client()
    ours, broker = socket.socketpair()
    try:
        client._sock = ours
        queue_pubacks(client, [5, 6])
        client._packet_write()
        assert broker.recv(100) == bytes.fromhex("4002000540020006")
        assert not client._out_packet
    finally:
        client._sock = None
        ours.close()
        broker.close()


def _publishes(count: int) -> bytes:
    packets = []
    for mid in range(1, count + 1):
        topic = b"lw/v1/dev/fob-%d/heartbeat" % mid
        payload = b'{"id":"%d","battery":87}' % mid + b" " * (mid % 200)  # lengths vary
        body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + b"\x00" + payload
        assert len(body) < 16384
        length = len(body)
        encoded = bytearray()
        while True:  # MQTT's variable byte integer: 1 or 2 bytes here
            byte, length = length % 128, length // 128
            encoded.append(byte | (0x80 if length else 0))
            if not length:
                break
        packets.append(bytes([0x32]) + bytes(encoded) + body)
    return b"".join(packets)


@pytest.mark.parametrize("read_bytes", [1, 7, 300, 65_536])
def test_the_buffered_client_reads_every_packet_whole(read_bytes: int) -> None:
    """Whatever the size of a read, every PUBLISH arrives once, whole and in order, and
    none is left in the buffer unread when paho goes back to select()."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="paho-internals",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    client.READ_BYTES = read_bytes
    received: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _client, _userdata, message: received.append(message)
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    try:
        client._sock = ours
        broker.sendall(_publishes(300))
        reads = 0
        while len(received) < 300 and reads < 100_000:
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
            reads += 1
            # What select() cannot see: nothing may wait in the buffer after a loop_read.
            assert client._read_at >= len(client._read)
        assert [m.mid for m in received] == list(range(1, 301))
        assert all(m.payload.startswith(b'{"id":"%d",' % m.mid) for m in received)
        assert [len(m.payload) for m in received] == [
            len(b'{"id":"%d","battery":87}' % mid) + mid % 200 for mid in range(1, 301)
        ]
        if read_bytes == 65_536:
            assert reads <= 2  # not one turn of paho's loop per packet
    finally:
        client._sock = None
        ours.close()
        broker.close()


def test_a_turn_of_pahos_loop_reads_at_most_one_buffer() -> None:
    """A flood that is not flow-controlled (QoS 0) must not keep paho reading for ever:
    it must return to write our PUBACKs and its keep-alive."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="paho-internals",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    client.READ_BYTES = 1000
    received: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _client, _userdata, message: received.append(message)
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    try:
        client._sock = ours
        broker.sendall(_publishes(300))
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
        assert 1 <= len(received) <= 1000 // 50 + 1  # packets here are 50 bytes or more
        assert client._read_at >= len(client._read)  # and nothing left unseen by select()
    finally:
        client._sock = None
        ours.close()
        broker.close()


def test_paho_reads_the_socket_only_through_sock_recv() -> None:
    """BufferedClient serves `_sock_recv`: a read of the socket elsewhere would skip it."""
    assert "_sock_recv" in mqtt.Client._packet_read.__code__.co_names
    assert "recv" not in mqtt.Client._packet_read.__code__.co_names
    assert "loop_read" in mqtt.Client._loop.__code__.co_names
