"""The three places the gateway reaches into paho-mqtt's internals (pinned >=2.1,<3), for CPU
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
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_PUBACK: Final = int(mqtt.PUBACK)
_PUBACK_PACKET: Final = struct.Struct("!BBH")
"""Fixed header (PUBACK, remaining length 2) and the packet id: paho's
`_send_command_with_mid`, which MQTT 5 allows (reason code 0, no properties, omitted)."""


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


class BufferedClient(mqtt.Client):
    """paho's client, reading the broker socket in large pieces (3. above)."""

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
                rc = super().loop_read(max_packets)
        finally:
            self._draining = False
        return rc
