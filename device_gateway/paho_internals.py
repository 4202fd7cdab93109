"""The four places the gateway reaches into paho-mqtt's internals (pinned >=2.1,<3), for CPU
under a heartbeat flood; tests/unit/test_paho_internals.py fails if any changes shape.

1. PUBACKs for a group in one write. `Client.ack(mid, 1)` queues one 4-byte packet per
   message, and each queueing writes a byte to paho's wake-up socketpair: a send from our
   thread, a wake-up and recv on paho's, and a send on the broker socket, per message.
   `queue_pubacks` queues the group's PUBACKs as one out-packet (the very bytes `ack` would
   send, back to back): one wake-up, one send. paho treats an out-packet that is not a
   PUBLISH or DISCONNECT as bytes to write, nothing more.
2. An empty MQTT 5 PUBLISH property list without the cost. paho builds a `Properties` for
   every PUBLISH it decodes (`_packet.decode_publish`), and its `__init__` builds three
   tables and `unpack` walks them (`clear`) even when there is no property at all: ~9 us a
   message here. `PublishProperties` shares the tables (paho only reads them) and skips
   `clear` for an object that has just been made; anything with properties is unpacked by
   paho's own code. `install` puts it in paho's `_packet` module, whose decoders (PUBLISH,
   and the rare CONNACK, SUBACK, UNSUBACK, DISCONNECT) are all that use the name there.
3. The broker socket read 64 KiB at a time. paho reads each packet with three `recv`s (its
   first byte, its length, the rest) and goes back to `select` after every packet: a
   heartbeat cost three system calls and a turn of paho's loop. `BufferedClient` serves
   paho's reads (`_sock_recv`) from what one `recv` brought, and reads every packet in it
   before paho goes back to `select` (which cannot see bytes already taken off the socket);
   never more than one buffer in a turn, so paho still writes (PUBACKs, keep-alive) between.
4. PUBLISH packets read straight from that buffer. For each PUBLISH paho runs its packet-read
   state machine, decodes into a `PublishPacket`, builds an `MQTTMessage`, formats a debug
   log line, and matches the topic against its per-filter callbacks (a recursive generator,
   even with none registered) before it calls `on_message`: most of what the edge spent per
   heartbeat. `BufferedClient.take_publish`, when set, is given (topic, payload, mid, qos,
   dup) of every whole QoS 0 or 1 PUBLISH that waits in the buffer between paho's packets
   and carries no MQTT 5 property (all a device sends); anything else (another packet, a
   property, QoS 2, a packet not yet whole, paho's debug log or a filtered callback in use)
   is left to paho's own reading, byte for byte where it stood.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_PUBACK: Final = int(mqtt.PUBACK)
_PUBLISH: Final = int(mqtt.PUBLISH)
_PUBACK_PACKET: Final = struct.Struct("!BBH")
"""Fixed header (PUBACK, remaining length 2) and the packet id: paho's
`_send_command_with_mid`, which MQTT 5 allows (reason code 0, no properties, omitted)."""


def settled(client: mqtt.Client) -> bool:
    """Nothing left for this connection to say or hear: every queued packet written (our
    PUBACKs among them) and no publish of ours still waiting for the broker's PUBACK.

    Closing a socket whose peer still sends to it makes the kernel answer with a reset, and
    a reset makes the broker drop what it had received but not yet read: the last group's
    PUBACKs. Seen: a clean stop right after an SOS's `alert_received` command (QoS 1, its
    PUBACK still on the way) had the broker deliver the last 100-150 messages again."""
    return not client._out_packet and not client._out_messages


def queue_pubacks(client: mqtt.Client, mids: Sequence[int]) -> None:
    """Queue a PUBACK for each of `mids` (QoS 1, in order) as one write to the broker."""
    if not mids:
        return
    packet = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids])
    client._packet_queue(_PUBACK, packet, mids[-1], 1)


_SHARED: Final[dict[str, Any]] = {
    name: value
    for name, value in vars(Properties(PacketTypes.PUBLISH)).items()  # type: ignore[no-untyped-call]
    if name in ("types", "names", "properties")
}


class PublishProperties(Properties):
    """paho's `Properties`, made without rebuilding its tables, and unpacked without clearing
    attributes a fresh object cannot have. Otherwise paho's class, unchanged."""

    def __init__(self, packetType: int) -> None:
        self.__dict__.update(_SHARED)
        object.__setattr__(self, "packetType", packetType)

    def unpack(self, buffer: bytes | bytearray) -> tuple[Properties, int]:
        if buffer[:1] == b"\x00" and len(self.__dict__) == 4:  # no properties, nothing set
            return self, 1
        result: tuple[Properties, int] = super().unpack(buffer)  # type: ignore[no-untyped-call]
        return result


def install() -> None:
    """Have paho decode PUBLISH packets with `PublishProperties` (idempotent)."""
    _packet.Properties = PublishProperties  # type: ignore[attr-defined,misc]


TakePublish = Callable[[bytes, bytes, int, int, bool], object]
"""(topic as sent, payload, packet id, QoS, DUP) of a PUBLISH read from the buffer (4. above).
Called on paho's thread, as `on_message` is; it must not raise (paho would log and go on)."""


class BufferedClient(mqtt.Client):
    """paho's client, reading the broker socket in large pieces (3. above) and the PUBLISH
    packets in them without paho's per-packet machinery when `take_publish` is set (4.)."""

    READ_BYTES = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_from: object = None
        """The socket the buffer came from: a new connection starts with an empty buffer."""
        self._read = b""
        self._read_at = 0
        self._draining = False
        """Reading only what is buffered: paho's turn must end (to write our PUBACKs and
        its keep-alive) even while a flood that is not flow-controlled (QoS 0) keeps coming."""
        self.take_publish: TakePublish | None = None
        self._filtered = False
        """A per-topic callback was added (`message_callback_add`): paho's reading only."""

    def message_callback_add(self, sub: str, callback: Any) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _sock_recv(self, bufsize: int) -> bytes:
        """At most `bufsize` bytes: from the buffer, else one large `recv` (paho's own, with
        its errors: BlockingIOError when nothing is there, b"" when the broker has gone)."""
        if self._read_at >= len(self._read) or self._read_from is not self._sock:
            if self._draining:  # the rest of this packet on paho's next turn (select sees it)
                raise BlockingIOError
            self._read_from = self._sock
            self._read, self._read_at = b"", 0
            data = super()._sock_recv(self.READ_BYTES)
            if len(data) <= bufsize:
                return data
            self._read = data
        start = self._read_at
        self._read_at = start + bufsize
        return self._read[start : start + bufsize]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's `loop_read`, then again while bytes it has not read wait in the buffer
        (without reading the socket again: at most one buffer's worth in a turn)."""
        rc = super().loop_read(max_packets)
        self._draining = True
        try:
            while (
                rc == MQTTErrorCode.MQTT_ERR_SUCCESS
                and self._read_at < len(self._read)
                and self._sock is not None
                and self._read_from is self._sock
            ):
                if not self._take_publishes():
                    rc = super().loop_read(max_packets)
        finally:
            self._draining = False
        return rc

    def _take_publishes(self) -> bool:
        """Hand every plain PUBLISH waiting whole at the head of the buffer to `take_publish`;
        False when the next packet is paho's to read (see 4. above)."""
        take = self.take_publish
        if (
            take is None
            or self._filtered
            or self._in_packet["command"] != 0  # paho is part-way through a packet
            or self.on_log is not None
            or (self._logger is not None and self._logger.isEnabledFor(logging.DEBUG))
        ):
            return False
        v5 = self._protocol == mqtt.MQTTv5
        qos_taken = 1 if self._manual_ack else 0  # else paho acknowledges QoS 1 itself
        data, at, end = self._read, self._read_at, len(self._read)
        taken = 0
        with self._in_callback_mutex:  # held around on_message by paho too
            while at < end:
                header = data[at]
                qos = (header >> 1) & 3
                if header & 0xF0 != _PUBLISH or qos > qos_taken:
                    break
                # Remaining length: MQTT's variable byte integer, at most four bytes.
                length, shift, pos = 0, 0, at + 1
                while pos < end and shift < 28:
                    byte = data[pos]
                    pos += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                else:
                    break  # not whole in the buffer, or malformed: paho's to read
                stop = pos + length
                if stop > end or length < 2:
                    break
                topic_end = pos + 2 + (data[pos] << 8 | data[pos + 1])
                body = topic_end + 2 if qos else topic_end
                if body + (1 if v5 else 0) > stop or (topic_end == pos + 2 and not v5):
                    break  # too short for its topic and packet id, or an empty 3.1.1 topic
                mid = data[topic_end] << 8 | data[topic_end + 1] if qos else 0
                if v5:
                    if data[body] != 0:
                        break  # MQTT 5 properties: paho decodes them
                    body += 1
                at = stop
                self._read_at = at  # taken, whatever the callback does
                taken += 1
                try:
                    take(data[pos + 2 : topic_end], data[body:stop], mid, qos, bool(header & 8))
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
        return taken > 0
