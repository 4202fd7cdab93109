"""The paho-mqtt internals device_gateway/paho_internals.py relies on (pinned >=2.1,<3):
each test here fails if paho changes what that module takes for granted."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


# -- 4. PUBLISH packets read straight from the buffer --------------------------------

Delivered = tuple[bytes, bytes, int, int, bool]


def _variable_int(value: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, value = value % 128, value // 128
        encoded.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def _framed(header: int, body: bytes) -> bytes:
    return bytes([header]) + _variable_int(len(body)) + body


def _publish(
    topic: bytes,
    payload: bytes,
    *,
    mid: int = 1,
    qos: int = 1,
    dup: bool = False,
    retain: bool = False,
    properties: bytes | None = b"\x00",
) -> bytes:
    """A PUBLISH as a broker sends it; `properties` None for MQTT 3.1.1 (no property list)."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    body += (properties if properties is not None else b"") + payload
    return _framed(0x30 | (8 if dup else 0) | qos << 1 | (1 if retain else 0), body)


def _feed(
    stream: bytes,
    *,
    read_bytes: int,
    take: bool,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
    manual_ack: bool = True,
    expected: int,
) -> list[Delivered]:
    """Every message delivered from `stream`, in order, as (topic, payload, mid, qos, dup),
    by paho's `on_message` and (with `take`) `take_publish` alike."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="paho-internals",
        protocol=protocol,
        manual_ack=manual_ack,
    )
    client.READ_BYTES = read_bytes
    delivered: list[Delivered] = []

    def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        topic = message._topic  # the bytes as sent, which `topic` would decode
        delivered.append((topic, bytes(message.payload), message.mid, message.qos, message.dup))

    client.on_message = on_message
    if take:
        client.take_publish = lambda *args: delivered.append(args)
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    try:
        client._sock = ours
        broker.sendall(stream)
        turns = 0
        while len(delivered) < expected and turns < 100_000:
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
            turns += 1
            assert client._read_at >= len(client._read)  # nothing unseen by select()
        return delivered
    finally:
        client._sock = None
        ours.close()
        broker.close()


_topics = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\x00", b"x")
) | st.sampled_from(
    [b"lw/v1/dev/fob-1/heartbeat", b"lw/v1/dev/\xff\xfe/sos", "lw/v1/dev/é/checkin".encode()]
)
_properties = st.sampled_from(
    [b"\x00", b"\x00", b"\x00", _with_properties()[1], b"\x02\x01\x01"]  # none; some; expiry
)


@st.composite
def _streams(draw: st.DrawFn, v5: bool) -> tuple[bytes, int]:
    """Packets as a broker sends them: PUBLISHes of every QoS 0 and 1 shape (with and
    without properties, DUP, RETAIN, payloads up to past 128 bytes), and PINGRESPs."""
    packets: list[bytes] = []
    publishes = 0
    for mid in range(1, draw(st.integers(1, 40)) + 1):
        if draw(st.integers(0, 9)) == 0:
            packets.append(b"\xd0\x00")  # PINGRESP: paho's to handle
            continue
        packets.append(
            _publish(
                draw(_topics),
                draw(st.binary(max_size=300)),
                mid=mid,
                qos=draw(st.integers(0, 1)),
                dup=draw(st.booleans()),
                retain=draw(st.booleans()),
                properties=draw(_properties) if v5 else None,
            )
        )
        publishes += 1
    return b"".join(packets), publishes


@settings(max_examples=150, deadline=None)
@given(
    stream=_streams(v5=True),
    read_bytes=st.sampled_from([1, 5, 64, 200, 65_536]),
    manual_ack=st.booleans(),
)
def test_publishes_taken_from_the_buffer_are_what_paho_delivers(
    stream: tuple[bytes, int], read_bytes: int, manual_ack: bool
) -> None:
    """Every message arrives once, whole, in order, with paho's topic, payload, packet id,
    QoS and DUP, however the stream is cut and whichever reader takes each packet."""
    data, publishes = stream
    by_paho = _feed(data, read_bytes=65_536, take=False, manual_ack=manual_ack, expected=publishes)
    assert len(by_paho) == publishes
    taken = _feed(data, read_bytes=read_bytes, take=True, manual_ack=manual_ack, expected=publishes)
    assert taken == by_paho


@settings(max_examples=50, deadline=None)
@given(stream=_streams(v5=False), read_bytes=st.sampled_from([3, 65_536]))
def test_mqtt_311_publishes_taken_from_the_buffer_are_what_paho_delivers(
    stream: tuple[bytes, int], read_bytes: int
) -> None:
    data, publishes = stream
    v311 = MQTTProtocolVersion.MQTTv311
    by_paho = _feed(data, read_bytes=65_536, take=False, protocol=v311, expected=publishes)
    taken = _feed(data, read_bytes=read_bytes, take=True, protocol=v311, expected=publishes)
    assert taken == by_paho


def test_plain_publishes_skip_pahos_reader() -> None:
    """The point of it: a buffer of plain PUBLISHes is handed over without paho decoding
    them (only the turn's first packet, which filled the buffer, is paho's)."""
    stream = b"".join(_publish(b"lw/v1/dev/fob-1/heartbeat", b"{}", mid=m) for m in range(1, 101))
    calls: list[int] = []
    original = _packet.decode_publish
    try:
        _packet.decode_publish = lambda *a: calls.append(1) or original(*a)  # type: ignore[assignment]
        taken = _feed(stream, read_bytes=65_536, take=True, expected=100)
    finally:
        _packet.decode_publish = original
    assert [t[2] for t in taken] == list(range(1, 101))
    assert len(calls) == 1


def test_what_paho_must_still_read_itself() -> None:
    """A packet with properties, a QoS 2 PUBLISH, a half-read packet: left to paho, and
    what comes after them is still taken in order."""
    stream = b"".join(
        [
            _publish(b"a/b", b"1", mid=1),
            _publish(b"a/b", b"2", mid=2, properties=b"\x02\x01\x01"),
            _publish(b"a/b", b"3", mid=3),
            _publish(b"a/b", b"4", mid=4, qos=2),
            _publish(b"a/b", b"5", mid=5),
        ]
    )
    taken = _feed(stream, read_bytes=65_536, take=True, expected=4)  # QoS 2 waits for PUBREL
    assert [(t[1], t[2], t[3]) for t in taken] == [
        (b"1", 1, 1),
        (b"2", 2, 1),
        (b"3", 3, 1),
        (b"5", 5, 1),
    ]


def test_the_internals_the_buffered_reader_relies_on() -> None:
    """paho between packets has `_in_packet["command"] == 0`; keep-alive reads
    `_last_bytes_received` under `_msgtime_mutex`; per-topic callbacks come only through
    `message_callback_add`; `_handle_on_message` is where they and `on_message` are called."""
    client = _client()
    assert client._in_packet["command"] == 0
    assert "_last_bytes_received" in mqtt.Client._check_keepalive.__code__.co_names
    assert "_msgtime_mutex" in mqtt.Client._check_keepalive.__code__.co_names
    assert "_in_callback_mutex" in mqtt.Client._handle_on_message.__code__.co_names
    assert "_on_message_filtered" in mqtt.Client._handle_on_message.__code__.co_names
    assert callable(mqtt.time_func)
    assert client._protocol == mqtt.MQTTv5 and client._manual_ack is True
    with client._in_callback_mutex, client._msgtime_mutex:
        pass
    buffered = BufferedClient(CallbackAPIVersion.VERSION2, client_id="x")
    buffered.message_callback_add("a/#", lambda *_: None)
    assert buffered._filtered


def test_a_filtered_callback_turns_the_buffered_reader_off() -> None:
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="paho-internals",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    filtered: list[int] = []
    client.message_callback_add("a/#", lambda _c, _u, m: filtered.append(m.mid))
    client.take_publish = lambda *args: pytest.fail("taken past a filtered callback")
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    try:
        client._sock = ours
        broker.sendall(b"".join(_publish(b"a/b", b"x", mid=m) for m in range(1, 6)))
        while len(filtered) < 5:
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    finally:
        client._sock = None
        ours.close()
        broker.close()
    assert filtered == [1, 2, 3, 4, 5]
