"""The simulated fleet: many devices heartbeating, each its own MQTT connection (paho clients
on one asyncio loop, mqtt_asyncio.py), or a flood of heartbeats over a few connections.

- `heartbeats`: `lonewatch simulate fleet`, tests/integration/test_fleet.py and the fleet
  benchmark. Every device beats every `interval` seconds (±10 % jitter, the first at a
  random moment), so 1,000 devices at 10 messages/s in all beat every 100 s.
- `flood`: the ingest and SOS benchmarks. Heartbeats of `devices` devices over a few
  connections, as fast as the broker takes them (a window of unacknowledged messages per
  connection) or paced at `rate` messages/s. Those connections are not devices but a
  load, and a paho client is too slow for it (qos1_publisher.py says by how much).

Topics come from device_gateway.messages, the gateway's own. The benchmarks run it as a
process of its own and read its last line (JSON):

    python -m simulators.fleet flood --port 1883 --devices 1000 --duration 60
    python -m simulators.fleet fleet --port 1883 --devices 10000 --every 30 --duration 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO

from device_gateway.messages import cmd_topic, device_topic
from simulators.fleet_directory import fleet_device_id, fleet_secret
from simulators.mqtt_asyncio import AsyncMqtt, raise_open_files_limit
from simulators.qos1_publisher import Qos1Publisher

SETTLE_SECONDS = 30.0
"""How long, after the last send, the broker's outstanding acknowledgements are awaited."""


def heartbeat_payload(message_id: str, battery: int = 87) -> bytes:
    return b'{"id":"%s","battery":%d}' % (message_id.encode(), battery)


@dataclass
class LoadReport:
    """What a load generator did; `acked` counts PUBACKs, the broker's acceptance."""

    published: int = 0
    acked: int = 0
    failed: int = 0
    seconds: float = 0.0
    devices: int = 0
    connections: int = 0
    refused: int = 0
    connect_seconds: float = 0.0
    started_at: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        sent_rate = self.published / self.seconds if self.seconds else 0.0
        return [
            f"devices connected: {self.connections}/{self.devices}"
            + (f" ({self.refused} refused by the broker)" if self.refused else ""),
            f"heartbeats sent: {self.published} in {self.seconds:.1f}s ({sent_rate:.1f}/s)",
            f"acknowledged by the broker (PUBACK): {self.acked}"
            f" ({self.published - self.acked} outstanding)",
        ]


class _Outstanding:
    """Counts each publish's PUBACK (or failure) into the report; `settled` is awaitable."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        self._all_in = asyncio.Event()
        self._all_in.set()

    def sent(self, future: asyncio.Future[None]) -> None:
        self.report.published += 1
        self._all_in.clear()
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.report.failed += 1
        else:
            self.report.acked += 1
        if self.report.acked + self.report.failed >= self.report.published:
            self._all_in.set()

    async def settled(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._all_in.wait()


class Progress:
    """One line on stderr, redrawn at most 5 times a second."""

    def __init__(self, total_seconds: float | None, stream: IO[str] = sys.stderr) -> None:
        self.total = total_seconds
        self.stream = stream

    def show(self, elapsed: float, text: str) -> None:
        if self.total:
            done = min(1.0, elapsed / self.total)
            bar = "#" * int(done * 30) + "." * (30 - int(done * 30))
            self.stream.write(f"\r[{bar}] {elapsed:5.1f}/{self.total:.0f}s {text}   ")
        else:
            self.stream.write(f"\r{elapsed:7.1f}s {text}   ")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    async def follow(self, report: LoadReport) -> None:
        """Redraw until cancelled."""
        while True:
            self.show(
                time.monotonic() - report.started_at,
                f"sent {report.published} acked {report.acked} ({report.connections} connected)",
            )
            await asyncio.sleep(0.2)


async def heartbeats(
    host: str,
    port: int,
    *,
    names: Sequence[str],
    interval: float,
    duration: float | None,
    prefix: str = "",
    secret: Callable[[str], str] | None = None,
    run: str = "",
    connect_rate: float = 2000.0,
    progress: Progress | None = None,
    on_connected: Callable[[], None] | None = None,
) -> LoadReport:
    """Connect one client per device in `names` (as that device, with `secret(name)` when
    given), each listening on its cmd topic; then each heartbeats every `interval` seconds
    for `duration` seconds (None: until cancelled, Ctrl-C)."""
    if interval <= 0 or not names:
        raise ValueError("--devices and --rate must be positive")
    raise_open_files_limit(len(names) + 1024)
    run = run or f"{time.time_ns() % 10**9}"
    report = LoadReport(devices=len(names))
    gate = asyncio.Semaphore(100)
    t0 = time.monotonic()

    async def connect(index: int, name: str) -> AsyncMqtt | None:
        await asyncio.sleep(max(0.0, index / connect_rate - (time.monotonic() - t0)))
        async with gate:
            try:
                client = await AsyncMqtt.connect(
                    host,
                    port,
                    f"sim-{name}",
                    username=name if secret else None,
                    password=secret(name) if secret else None,
                    keepalive=120,
                )
                await client.subscribe(cmd_topic(prefix, name))
            except (OSError, TimeoutError):
                report.refused += 1
                return None
        report.connections += 1
        return client

    clients = await asyncio.gather(*(connect(i, n) for i, n in enumerate(names)))
    report.connect_seconds = time.monotonic() - t0
    if on_connected is not None:
        on_connected()
    report.started_at = time.monotonic()
    deadline = None if duration is None else report.started_at + duration
    outstanding = _Outstanding(report)

    async def device(name: str, client: AsyncMqtt) -> None:
        topic = device_topic(prefix, name, "heartbeat")
        next_at = report.started_at + random.uniform(0, interval)
        seq, battery = 0, 100
        while deadline is None or next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if random.random() < 0.01:
                battery = max(0, battery - 1)
            try:
                outstanding.sent(client.publish(topic, heartbeat_payload(f"{run}-{seq}", battery)))
            except ConnectionError:
                return
            seq += 1
            next_at += interval * random.uniform(0.9, 1.1)

    shown = asyncio.create_task(progress.follow(report)) if progress is not None else None
    try:
        with contextlib.suppress(asyncio.CancelledError):  # Ctrl-C: report what was sent
            await asyncio.gather(*(device(n, c) for n, c in zip(names, clients, strict=True) if c))
        await outstanding.settled(SETTLE_SECONDS)
    finally:
        report.seconds = time.monotonic() - report.started_at
        if progress is not None and shown is not None:
            shown.cancel()
            progress.show(report.seconds, f"sent {report.published} acked {report.acked}")
            progress.done()
        report.extra["still_connected"] = sum(1 for c in clients if c and c.connected)
        for client in clients:
            if client is not None:
                client.close()
    return report


def run_fleet(
    *,
    host: str,
    port: int,
    devices: int,
    rate: float,
    duration: float | None,
    prefix: str = "",
    with_secrets: bool = True,
    progress: Progress | None = None,
) -> LoadReport:
    """`lonewatch simulate fleet`: the directory's fleet devices (`simulate directory`),
    `rate` heartbeats per second in all; blocks until done."""
    if rate <= 0 or devices <= 0:
        raise ValueError("--devices and --rate must be positive")
    return asyncio.run(
        heartbeats(
            host,
            port,
            names=[fleet_device_id(n) for n in range(1, devices + 1)],
            interval=devices / rate,
            duration=duration,
            prefix=prefix,
            secret=fleet_secret if with_secrets else None,
            progress=progress,
        )
    )


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
    report = LoadReport(devices=devices)
    clients = [
        await Qos1Publisher.connect(host, port, f"flood-{run}-{i}") for i in range(connections)
    ]
    report.connections = len(clients)
    topics = [device_topic(prefix, f"bench-{i:05d}", "heartbeat") for i in range(devices)]
    report.started_at = time.monotonic()
    deadline = report.started_at + duration
    per_connection = None if rate is None else rate / connections
    budget = max_messages // connections

    async def one(index: int, client: Qos1Publisher) -> None:
        mine = topics[index::connections] or topics
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
            try:
                future = client.publish(
                    mine[sent % len(mine)], heartbeat_payload(f"{run}-{index}-{sent}")
                )
            except ConnectionError:
                slots.release()
                report.failed += 1
                break
            future.add_done_callback(done)
            sent += 1
            report.published += 1
            if sent % 64 == 0:
                await asyncio.sleep(0)  # let PUBACKs in
        for _ in range(window):  # every PUBACK in (bounded below)
            await slots.acquire()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration + SETTLE_SECONDS):
            await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    report.seconds = min(time.monotonic(), deadline) - report.started_at
    for client in clients:
        client.close()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
            heartbeats(
                args.host,
                args.port,
                names=[f"bench-{i:05d}" for i in range(args.devices)],
                interval=args.every,
                duration=args.duration,
                prefix=args.prefix,
                run=args.run,
                on_connected=lambda: print(json.dumps({"connected": True}), flush=True),
            )
        )
    print(json.dumps(asdict(report) | {"rate": report.rate}), flush=True)


if __name__ == "__main__":
    main()
