"""One JetStream durable pull consumer, seen by the gateway as a broker link.

Devices speak MQTT to NATS's MQTT listener; NATS turns the topic `lw/v1/dev/X/sos` into the
subject `lw.v1.dev.X.sos`, and the stream (`LW_NATS_STREAM`) keeps every device message.
Each `serve` process pulls from the same durable consumers, so a message goes to one of
them; it is acknowledged (`ack`) only after its event is committed, and one held by a
process that dies is delivered to another after the consumer's ack wait.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from device_gateway.inbound import InboundMessage
from service.logs import get_logger

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

log = get_logger(__name__)

FETCH_BATCH: Final = 256
"""Messages asked for in one pull: about a group commit's worth."""
FETCH_WAIT_SECONDS: Final = 1.0
"""How long one pull waits for a message when there is none (then pulls again)."""
RETRY_MAX_SECONDS: Final = 2.0


def nats_subject(topic: str) -> str:
    """The subject NATS's MQTT listener gives an MQTT topic (levels joined by dots)."""
    return topic.replace("/", ".")


def mqtt_topic(subject: str) -> str:
    """The MQTT topic a device published on, from its subject (MQTT topics here never
    contain a dot: device ids and kinds are letters, digits, `-` and `_`)."""
    return subject.replace(".", "/")


Deliver = Callable[[InboundMessage], object]


class NatsLink:
    """A pull loop over one durable consumer, plus publishing on the shared connection.

    Like `MqttLink`, what it receives goes to `deliver` and stays unacknowledged until
    `ack`; `ack` and `publish` may be called from any thread. `connected` is true while
    the connection is up and the consumer answered the last pull.
    """

    def __init__(self, name: str, *, durables: list[str], deliver: Deliver) -> None:
        self.name = name
        self.durables = durables
        """One consumer per subject filter (NATS 2.9 consumers take one filter)."""
        self._deliver = deliver
        self._nc: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: dict[int, Msg] = {}
        self._held_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._answered: set[str] = set()
        self._sending: set[asyncio.Task[None]] = set()
        """Acks and publishes under way: held, since the loop keeps only weak references."""
        self.stats: dict[str, int] = {"fetched": 0, "redelivered": 0, "pull_errors": 0}

    # -- what the gateway reads (device_gateway.links.SessionLink) -----------------------

    @property
    def connected(self) -> bool:
        nc = self._nc
        return self._ready.is_set() and nc is not None and nc.is_connected

    @property
    def session_since(self) -> float:
        """The durable consumers outlive every process: the session never began anew."""
        return -math.inf

    @property
    def covered_since(self) -> float:
        """The alarm consumer has had every alarm since the stream began (it is made
        with the stream), so while it is connected the main one may skip alarms."""
        return -math.inf if self._ready.is_set() else math.inf

    def wait_connected(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    @property
    def in_flight(self) -> int:
        with self._held_lock:
            return len(self._held)

    # -- traffic ------------------------------------------------------------------------

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge to the stream: only after the message is durably recorded."""
        with self._held_lock:
            msg = self._held.pop(mid, None)
        if msg is None:
            log.info("nats_ack_skipped", link=self.name, mid=mid, why="acknowledged already")
            return
        self._on_loop(msg.ack())

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """To the MQTT topic's subject: NATS's MQTT listener hands it to the device (to one
        that is connected; the device repeats an alarm until answered, so a missed
        `alert_received` is sent again)."""
        nc = self._nc
        if nc is None:
            log.warning("nats_publish_dropped", topic=topic, why="not connected yet")
            return
        self._on_loop(nc.publish(nats_subject(topic), payload))

    def _on_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None:
            coro.close()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(coro)
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            task.add_done_callback(_log_failure)
        else:
            asyncio.run_coroutine_threadsafe(coro, loop).add_done_callback(_log_failure)

    # -- the pull loop ------------------------------------------------------------------

    def attach(self, nc: Client) -> None:
        """The connection to publish and acknowledge on, from the moment it is made (the
        main link's pulls start later, but commands go out on it at once)."""
        self._nc, self._loop = nc, asyncio.get_running_loop()

    async def run(self, nc: Client, js: JetStreamContext, stream: str) -> None:
        """Pull from each consumer and hand over until cancelled."""
        self.attach(nc)
        try:
            async with asyncio.TaskGroup() as pulls:
                for durable in self.durables:
                    pulls.create_task(self._pull(nc, js, stream, durable))
        finally:
            self._answered.clear()
            self._ready.clear()

    def _answering(self, durable: str, answered: bool) -> None:
        if answered:
            self._answered.add(durable)
        else:
            self._answered.discard(durable)
        if self._answered.issuperset(self.durables):
            self._ready.set()
        else:
            self._ready.clear()

    async def _pull(self, nc: Client, js: JetStreamContext, stream: str, durable: str) -> None:
        """A failed pull is logged and retried (the client reconnects by itself), and
        shows as not connected meanwhile."""
        delay = 0.1
        sub = None
        try:
            while True:
                _honour_a_swallowed_cancel()
                try:
                    if sub is None:
                        sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
                    msgs = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_SECONDS)
                except TimeoutError:
                    self._answering(durable, True)  # the consumer answered: nothing waiting
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._answering(durable, False)
                    self.stats["pull_errors"] += 1
                    log.warning(
                        "nats_pull_failed", link=self.name, error=f"{type(exc).__name__}: {exc}"
                    )
                    if sub is not None and not nc.is_connected:
                        await _quietly(sub.unsubscribe())
                        sub = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                delay = 0.1
                self._answering(durable, True)
                for msg in msgs:
                    self._hand_over(msg)
        finally:
            if sub is not None:
                await _quietly(sub.unsubscribe())

    def _hand_over(self, msg: Msg) -> None:
        mid = next(self._ids)
        delivered = 1
        try:
            delivered = msg.metadata.num_delivered
        except Exception:  # a message without JetStream metadata: taken as first delivery
            delivered = 1
        with self._held_lock:
            self._held[mid] = msg
        self.stats["fetched"] += 1
        if delivered > 1:
            self.stats["redelivered"] += 1
        inbound = InboundMessage(
            topic=mqtt_topic(msg.subject),
            payload=bytes(msg.data),
            mid=mid,
            qos=1,
            dup=delivered > 1,
            received_at=time.monotonic(),
        )
        try:
            self._deliver(inbound)
        except Exception:
            # Left unacknowledged: the stream delivers it again after the ack wait.
            log.exception("nats_handler_failed", link=self.name, subject=msg.subject)


def _honour_a_swallowed_cancel() -> None:
    """Raise CancelledError if this task was asked to stop but is still running.

    nats-py's `fetch` waits with `asyncio.wait_for`, which on Python 3.11 returns the
    message instead of raising when a cancel lands in the same instant a message (a pull's
    408 at its expiry, every second) reaches the subscription: the pull went on pulling
    for ever and `NatsSessions.stop`, awaiting it, never returned (the broker contract test
    hung in its teardown until its timeout). `cancelling()` still counts the request, so
    the pull ends at its next round (a message fetched with the cancel is handed over as
    any other: unacknowledged until recorded, else delivered again after the ack wait)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _quietly(coro: Coroutine[Any, Any, object]) -> None:
    try:
        await coro
    except Exception as exc:
        log.info("nats_cleanup_failed", error=f"{type(exc).__name__}: {exc}")


def _log_failure(future: Any) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        # An ack that did not reach the server: the message comes back after the ack
        # wait and is found recorded (a duplicate), so nothing is lost.
        log.warning("nats_send_failed", error=f"{type(exc).__name__}: {exc}")
