"""A publish-only MQTT 3.1.1 connection for floods: CONNECT, then PUBLISH at QoS 1 and the
broker's PUBACKs; nothing else (no subscriptions, no inbound messages, no reconnects).

Every simulated *device* is a paho client (simulators.mqtt_asyncio). The floods of the
ingest and SOS benchmarks are not devices but a load that must out-pace what the service
records (the SOS benchmark offers five times that), and paho spends most of each message
on its own bookkeeping (a socket send per publish, three reads and two objects per
PUBACK). Measured on this machine, publisher alone, 4 connections, window 500 (2 cores
shared): paho on asyncio 3,400-5,200 msg/s against 8,700-13,100 msg/s here, the same
minutes (docs/performance.md, "Fleet"). Only 127.0.0.1 is dialled.
"""

from __future__ import annotations

import asyncio
import struct

_CONNECT, _CONNACK, _PUBACK = 1, 2, 4


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _remaining_length(len(body)) + body


class Qos1Publisher(asyncio.Protocol):
    """One connection. `publish` returns a future that completes on the broker's PUBACK."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._connack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._next_id = 0

    @classmethod
    async def connect(
        cls, host: str, port: int, client_id: str, *, keepalive: int = 120, within: float = 30.0
    ) -> Qos1Publisher:
        loop = asyncio.get_running_loop()
        client = cls(client_id)
        async with asyncio.timeout(within):
            await loop.create_connection(lambda: client, host, port)
            body = _string("MQTT") + bytes((4, 0x02)) + struct.pack("!H", keepalive)
            client._write(_packet(_CONNECT << 4, body + _string(client_id)))
            code = await client._connack
        if code:
            client.close()
            raise ConnectionError(f"broker refused {client_id}: CONNACK return code {code}")
        return client

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Send at QoS 1; the future completes when the broker has taken responsibility."""
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._waiting[packet_id] = future
        self._write(_packet(0x32, _string(topic) + struct.pack("!H", packet_id) + payload))
        return future

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc or ConnectionError(f"{self.client_id}: connection closed")
        if not self._connack.done():
            self._connack.set_exception(error)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 2:
            length, multiplier, offset = 0, 1, 1
            while True:
                if offset >= len(buffer):
                    return
                byte = buffer[offset]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                offset += 1
                if not byte & 0x80:
                    break
            end = offset + length
            if len(buffer) < end:
                return
            self._handle(buffer[0] >> 4, bytes(buffer[offset:end]))
            del buffer[:end]

    def _handle(self, kind: int, body: bytes) -> None:
        if kind == _PUBACK:
            (packet_id,) = struct.unpack_from("!H", body)
            future = self._waiting.pop(packet_id, None)
            if future is not None and not future.done():
                future.set_result(None)
        elif kind == _CONNACK and not self._connack.done():
            self._connack.set_result(body[1])

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError(f"{self.client_id}: not connected")
        self._transport.write(data)

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._waiting:
                return self._next_id
        raise RuntimeError("65,535 messages in flight on one connection")
