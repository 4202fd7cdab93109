"""The gateway on NATS JetStream: one connection to the cluster, the stream of device
messages, and its two durable pull consumers, alarms and everything (docs/scale-out.md).

The same surface as `BrokerSessions` (`open`, `start_main`, `stop`, `main`, `alarm`), so
the gateway, health and metrics do not know which broker they are on. The main consumer
sees alarms too (NATS 2.9 consumers take one filter): the gateway acknowledges those there
without recording them while the alarm consumer is being served, as it does for Mosquitto's
two sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from device_gateway.messages import ALARM_KINDS, normalise_prefix
from device_gateway.nats_link import NatsLink, nats_subject
from device_gateway.sessions import ALARM_SESSION_FIRST_WAIT, Receive
from service.logs import get_logger

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

log = get_logger(__name__)

ALARM_CONSUMER: Final = "lonewatch-alarms"
"""With `-<kind>` appended: one consumer per alarm kind, together the alarm link."""
MAIN_CONSUMER: Final = "lonewatch-devices"
ACK_WAIT_SECONDS: Final = 10.0
"""How long a message pulled by a process stays its own before the stream gives it to
another: the takeover time when a `serve` process dies holding messages. Longer than any
group commit (a group redelivered early is only found recorded, never lost)."""
ALARM_MAX_ACK_PENDING: Final = 500
MAIN_MAX_ACK_PENDING: Final = 4000
"""Messages out and unacknowledged, over every process: bounds each process's lanes."""
STREAM_MAX_AGE_SECONDS: Final = 7 * 24 * 3600
CONNECT_RETRY_SECONDS: Final = 1.0


@dataclass(frozen=True)
class NatsPlan:
    """What the stream and its consumers are called and take, for one topic prefix."""

    stream: str
    prefix: str
    replicas: int

    @property
    def devices(self) -> str:
        return nats_subject(f"{normalise_prefix(self.prefix)}lw/v1/dev/") + ">"

    @property
    def alarms(self) -> dict[str, str]:
        """A consumer per alarm kind (a 2.9 consumer takes one subject filter): name, filter."""
        return {
            f"{ALARM_CONSUMER}-{kind}": nats_subject(
                f"{normalise_prefix(self.prefix)}lw/v1/dev/*/{kind}"
            )
            for kind in sorted(ALARM_KINDS)
        }


class NatsSessions:
    """The connection, and a link per consumer (made by `open`, none before)."""

    def __init__(self, servers: list[str], *, stream: str, prefix: str) -> None:
        self.servers = servers
        self.plan = NatsPlan(stream=stream, prefix=prefix, replicas=min(3, len(servers)))
        self._main: NatsLink | None = None
        self._alarm: NatsLink | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()
        self.state: dict[str, object] = {"servers": servers, "stream": stream}

    @property
    def main(self) -> NatsLink | None:
        return self._main

    @property
    def alarm(self) -> NatsLink | None:
        return self._alarm

    @property
    def connected_to(self) -> str | None:
        """The server this process is connected to now (health shows it)."""
        nc = self._nc
        if nc is None or not nc.is_connected or nc.connected_url is None:
            return None
        url = nc.connected_url
        return f"{url.hostname}:{url.port}"

    def details(self) -> dict[str, object]:
        """What health shows beside the consumers' connected flags."""
        return {
            "kind": "nats",
            "server": self.connected_to,
            "stream": self.plan.stream,
            "in_flight": {
                name: link.in_flight
                for name, link in (("devices", self._main), ("alarms", self._alarm))
                if link is not None
            },
        }

    def open(self, *, on_message: Receive, on_alarm: Receive) -> None:
        """Make the links and start connecting (in the background: start-up and health
        never wait for the cluster); the alarm consumer is pulled from first."""
        self._alarm = NatsLink("alarms", durables=list(self.plan.alarms), deliver=on_alarm)
        self._main = NatsLink("devices", durables=[MAIN_CONSUMER], deliver=on_message)
        self._ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._connect(), name="nats-connect"))

    async def start_main(self) -> None:
        """Pull the main consumer once the alarm consumer is served (or after
        ALARM_SESSION_FIRST_WAIT: then the main one records alarms itself)."""
        await self._ready.wait()
        alarm, main, nc, js = self._alarm, self._main, self._nc, self._js
        if alarm is None or main is None or nc is None or js is None:
            raise RuntimeError("open() the sessions first")
        deadline = asyncio.get_running_loop().time() + ALARM_SESSION_FIRST_WAIT
        while not alarm.connected:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("alarm_consumer_not_ready", waited=ALARM_SESSION_FIRST_WAIT)
                break
            await asyncio.sleep(0.02)
        self._tasks.append(
            asyncio.create_task(main.run(nc, js, self.plan.stream), name="nats-pull-devices")
        )

    async def _connect(self) -> None:
        """Connect (retried until it works: the client then reconnects by itself), make
        the stream and consumers if they are not there, and start pulling alarms."""
        import nats

        while True:
            try:
                nc = await nats.connect(
                    servers=self.servers,
                    name="lonewatch-gateway",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=_connection_error,
                    disconnected_cb=_disconnected,
                    reconnected_cb=_reconnected,
                )
                break
            except Exception as exc:
                log.warning("nats_connect_failed", servers=self.servers, error=str(exc))
                await asyncio.sleep(CONNECT_RETRY_SECONDS)
        self._nc = nc
        for link in (self._main, self._alarm):
            if link is not None:
                link.attach(nc)
        js = self._js = nc.jetstream(timeout=5)
        while True:
            try:
                await ensure_stream(js, self.plan)
                break
            except Exception as exc:
                log.warning("nats_stream_setup_failed", stream=self.plan.stream, error=str(exc))
                await asyncio.sleep(CONNECT_RETRY_SECONDS)
        log.info("nats_connected", server=self.connected_to, stream=self.plan.stream)
        alarm = self._alarm
        assert alarm is not None
        self._tasks.append(
            asyncio.create_task(alarm.run(nc, js, self.plan.stream), name="nats-pull-alarms")
        )
        self._ready.set()

    async def stop(self) -> None:
        """Stop pulling and close the connection; what was pulled and not acknowledged
        goes to another process after the ack wait. Safe to call again."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()


async def ensure_stream(
    js: JetStreamContext, plan: NatsPlan, *, ack_wait: float = ACK_WAIT_SECONDS
) -> None:
    """The stream and both consumers, made together if missing; an existing stream and
    consumers (made by an operator, deploy/nats/) are used as they are.

    Interest retention: a message is kept until both consumers have acknowledged it, and
    the consumers are made with the stream, so none is published before they exist.
    """
    from nats.js.api import (
        AckPolicy,
        ConsumerConfig,
        DeliverPolicy,
        RetentionPolicy,
        StorageType,
        StreamConfig,
    )
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(plan.stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=plan.stream,
                subjects=[plan.devices],
                retention=RetentionPolicy.INTEREST,
                storage=StorageType.FILE,
                num_replicas=plan.replicas,
                max_age=STREAM_MAX_AGE_SECONDS,
            )
        )
        log.info("nats_stream_created", stream=plan.stream, subjects=plan.devices)
    consumers = [(name, subject, ALARM_MAX_ACK_PENDING) for name, subject in plan.alarms.items()]
    consumers.append((MAIN_CONSUMER, plan.devices, MAIN_MAX_ACK_PENDING))
    for durable, subject, pending in consumers:
        try:
            await js.consumer_info(plan.stream, durable)
        except NotFoundError:
            await js.add_consumer(
                plan.stream,
                ConsumerConfig(
                    durable_name=durable,
                    filter_subject=subject,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=ack_wait,
                    deliver_policy=DeliverPolicy.ALL,
                    max_ack_pending=pending,
                    max_deliver=-1,
                ),
            )


async def _connection_error(exc: Exception) -> None:
    log.warning("nats_connection_error", error=f"{type(exc).__name__}: {exc}")


async def _disconnected() -> None:
    log.warning("nats_disconnected")


async def _reconnected() -> None:
    log.info("nats_reconnected")
