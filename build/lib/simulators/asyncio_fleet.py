"""A simulated fleet for load: a small MQTT 3.1.1 client on asyncio, one protocol object per connection.

paho runs a thread per client, which caps one process at a few hundred devices;
this client is a protocol object per connection, so one process holds ten thousand.
It speaks only what a fob needs: CONNECT, PUBLISH at QoS 1 (and the PUBACK back),
SUBSCRIBE to its cmd topic, PINGREQ. Only 127.0.0.1 is dialled by the benchmarks.

    python -m simulators.asyncio_fleet flood --port 1883 --devices 1000 --duration 60
    python -m simulators.asyncio_fleet fleet --port 1883 --devices 10000 --every 30 --duration 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP = (
    1,
    2,
    3,
    4,
    8,
    9,
    12,
    13,
)


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


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    return _packet(0x32, _string(topic) + struct.pack("!H", packet_id) + payload)


class MqttClient(asyncio.Protocol):
    """One connection. `publish` returns a future that completes on the broker's PUBACK."""

    def __init__(self, client_id: str, keepalive: int = 60) -> None:
        self.client_id = client_id
        self.keepalive = keepalive
        self.on_message: Callable[[str, bytes], None] | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._connack: asyncio.Future[int] | None = None
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._next_id = 0
        self.closed: asyncio.Future[None] | None = None

    @classmethod
    async def connect(
        cls, host: str, port: int, client_id: str, *, keepalive: int = 60, within: float = 30.0
    ) -> MqttClient:
        loop = asyncio.get_running_loop()
        client = cls(client_id, keepalive)
        client.closed = loop.create_future()
        client._connack = loop.create_future()
        async with asyncio.timeout(within):
            await loop.create_connection(lambda: client, host, port)
            body = _string("MQTT") + bytes((4, 0x02)) + struct.pack("!H", keepalive)
            client._write(_packet(CONNECT << 4, body + _string(client_id)))
            code = await client._connack
        if code:
            client.close()
            raise ConnectionError(f"broker refused {client_id}: CONNACK return code {code}")
        return client

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc or ConnectionError(f"{self.client_id}: connection closed")
        for future in (self._connack, *self._waiting.values()):
            if future is not None and not future.done():
                future.set_exception(error)
        self._waiting.clear()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

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
            self._handle(buffer[0], bytes(buffer[offset:end]))
            del buffer[:end]

    def _handle(self, first: int, body: bytes) -> None:
        kind = first >> 4
        if kind in (PUBACK, SUBACK):
            (packet_id,) = struct.unpack_from("!H", body)
            future = self._waiting.pop(packet_id, None)
            if future is not None and not future.done():
                future.set_result(None)
        elif kind == CONNACK:
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(body[1])
        elif kind == PUBLISH:
            qos = (first >> 1) & 0x03
            (topic_len,) = struct.unpack_from("!H", body)
            topic = body[2 : 2 + topic_len].decode()
            offset = 2 + topic_len
            if qos:
                self._write(_packet(PUBACK << 4, body[offset : offset + 2]))
                offset += 2
            if self.on_message is not None:
                self.on_message(topic, body[offset:])

    # -- commands -----------------------------------------------------------------

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

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Send at QoS 1; the future completes when the broker has taken responsibility."""
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._waiting[packet_id] = future
        self._write(publish_packet(topic, payload, packet_id))
        return future

    async def subscribe(self, topic: str) -> None:
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._waiting[packet_id] = future
        body = struct.pack("!H", packet_id) + _string(topic) + bytes((1,))
        self._write(_packet((SUBSCRIBE << 4) | 0x02, body))
        await future

    def ping(self) -> None:
        self._write(bytes((PINGREQ << 4, 0)))

    @property
    def writable(self) -> bool:
        """False while the socket's send buffer is over its high-water mark."""
        return self._transport is not None and self._transport.get_write_buffer_size() < 1 << 20

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never past the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def heartbeat_payload(message_id: str, battery: int = 87) -> bytes:
    return b'{"id":"%s","battery":%d}' % (message_id.encode(), battery)


@dataclass
class LoadReport:
    """What a load generator did; `acked` counts PUBACKs, the broker's acceptance."""

    published: int = 0
    acked: int = 0
    failed: int = 0
    seconds: float = 0.0
    connections: int = 0
    connect_seconds: float = 0.0
    started_at: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


async def flood(
    host: str,
    port: int,
    *,
    devices: int,
    duration: float,
    connections: int = 4,
    window: int = 500,
    rate: float | None = None,
    prefix: str = "",
    run: str = "",
    max_messages: int = 10_000_000,
) -> LoadReport:
    """Heartbeats from `devices` devices over a few connections, as fast as the broker takes
    them (at most `window` unacknowledged per connection) or paced at `rate` per second."""
    report = LoadReport(connections=connections)
    clients = [await MqttClient.connect(host, port, f"flood-{run}-{i}") for i in range(connections)]
    names = [f"bench-{i:05d}" for i in range(devices)]
    report.started_at = time.monotonic()
    deadline = report.started_at + duration
    per_connection = None if rate is None else rate / connections
    budget = max_messages // connections

    async def one(index: int, client: MqttClient) -> None:
        mine = names[index::connections] or names
        slots = asyncio.Semaphore(window)
        sent = 0
        started = time.monotonic()

        def done(future: asyncio.Future[None]) -> None:
            slots.release()
            if future.cancelled() or future.exception() is not None:
                report.failed += 1
            else:
                report.acked += 1

        while sent < budget:
            now = time.monotonic()
            if now >= deadline:
                break
            if per_connection is not None:
                ahead = sent - (now - started) * per_connection
                if ahead > 0:
                    await asyncio.sleep(ahead / per_connection)
                    continue
            await slots.acquire()
            device = mine[sent % len(mine)]
            topic = f"{prefix}lw/v1/dev/{device}/heartbeat"
            try:
                future = client.publish(topic, heartbeat_payload(f"{run}-{index}-{sent}"))
            except ConnectionError:
                slots.release()
                report.failed += 1
                break
            future.add_done_callback(done)
            sent += 1
            report.published += 1
            if sent % 64 == 0:
                await asyncio.sleep(0)  # let PUBACKs in
        for _ in range(window):  # wait for the last PUBACKs (bounded below)
            await slots.acquire()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration + 30):
            await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    report.seconds = min(time.monotonic(), deadline) - report.started_at
    for client in clients:
        client.close()
    return report


async def fleet(
    host: str,
    port: int,
    *,
    devices: int,
    every: float,
    duration: float,
    prefix: str = "",
    run: str = "",
    connect_rate: float = 2000.0,
    on_connected: Callable[[], None] | None = None,
) -> LoadReport:
    """`devices` connections at once, each sending a heartbeat every `every` seconds
    (first at a random moment) and listening on its cmd topic, for `duration` seconds."""
    raise_open_files_limit(devices + 1024)
    report = LoadReport(connections=0)
    clients: list[MqttClient] = []
    t0 = time.monotonic()
    for i in range(devices):
        clients.append(await MqttClient.connect(host, port, f"fob-{run}-{i}", keepalive=120))
        if i % 200 == 199:
            behind = (i + 1) / connect_rate - (time.monotonic() - t0)
            await asyncio.sleep(max(0.0, behind))
    report.connections = len(clients)
    report.connect_seconds = time.monotonic() - t0
    if on_connected is not None:
        on_connected()
    report.started_at = time.monotonic()
    deadline = report.started_at + duration

    def done(future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            report.failed += 1
        else:
            report.acked += 1

    async def device(index: int, client: MqttClient) -> None:
        name = f"bench-{index:05d}"
        topic = f"{prefix}lw/v1/dev/{name}/heartbeat"
        next_at = report.started_at + random.uniform(0, every)
        seq = 0
        while True:
            wait = next_at - time.monotonic()
            if next_at >= deadline:
                return
            if wait > 0:
                await asyncio.sleep(wait)
            client.publish(topic, heartbeat_payload(f"{run}-{seq}")).add_done_callback(done)
            report.published += 1
            seq += 1
            next_at += every

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(60)
            for client in clients:
                with contextlib.suppress(ConnectionError):
                    client.ping()

    pinger = asyncio.create_task(keepalive())
    try:
        await asyncio.gather(*(device(i, c) for i, c in enumerate(clients)))
        async with asyncio.timeout(30):
            while report.acked + report.failed < report.published:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # PUBACKs land in callbacks: poll their count
    finally:
        pinger.cancel()
        report.seconds = time.monotonic() - report.started_at
        report.extra["still_connected"] = sum(
            1 for c in clients if c.closed is not None and not c.closed.done()
        )
        for client in clients:
            client.close()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="load", required=True)
    for name in ("flood", "fleet"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=1883)
        p.add_argument("--devices", type=int, default=1000)
        p.add_argument("--duration", type=float, default=10.0)
        p.add_argument("--prefix", default="")
        p.add_argument("--run", default="sim")
    flood_args = sub.choices["flood"]
    flood_args.add_argument("--connections", type=int, default=4)
    flood_args.add_argument("--window", type=int, default=500)
    flood_args.add_argument("--rate", type=float, default=None, help="messages/s; default: max")
    sub.choices["fleet"].add_argument("--every", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.load == "flood":
        report = asyncio.run(
            flood(
                args.host,
                args.port,
                devices=args.devices,
                duration=args.duration,
                connections=args.connections,
                window=args.window,
                rate=args.rate,
                prefix=args.prefix,
                run=args.run,
            )
        )
    else:
        report = asyncio.run(
            fleet(
                args.host,
                args.port,
                devices=args.devices,
                every=args.every,
                duration=args.duration,
                prefix=args.prefix,
                run=args.run,
                on_connected=lambda: print(json.dumps({"connected": True}), flush=True),
            )
        )
    print(json.dumps(asdict(report) | {"rate": report.rate}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
