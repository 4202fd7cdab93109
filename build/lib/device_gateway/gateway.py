"""The device gateway: MQTT messages in, recorded in groups, then acknowledged.

The order is the guarantee: a message is acknowledged to the broker only after
its event is committed, so a crash in between means the broker delivers it
again (and the store's uniqueness on device+id records it once).

Messages wait in three lanes, each committing whatever has gathered as one
transaction on a worker thread of its own (never the shared default pool, where
password hashing and exports run): alarms (sos, fall), texts (message: a safe word
raises duress, and checking it is slow on purpose) and the rest (heartbeats and other
readings). Alarms also have a broker session of their own (`bind(..., alarm=...)`):
see docs/gateway.md, "Two sessions".

A group that fails is never simply left unacknowledged: while the store is unavailable
it is held and retried; for any other failure it is split until the message that
fails is alone, and that one is recorded as rejected (or, for an alarm, recorded
without its fields) and acknowledged. No good message waits for a bad neighbour.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from device_gateway.messages import (
    ALARM_KINDS,
    DeviceReading,
    Rejection,
    cmd_topic,
    is_device_id,
    parse_device_message,
    safe_text,
    topic_levels,
)
from device_gateway.mqtt_link import InboundMessage
from service.adapters.alarm_priority import AlarmPriority
from service.application.device_intake import DeviceIntake, Intaken, Outcome
from service.application.lonewatch import Lonewatch
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.notifications import Notification
from service.domain.devices.rejected import RAW_CAP_BYTES, RejectedDeviceMessage
from service.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

ANNOUNCED_ALERTS: Final = frozenset(AlertKind(kind) for kind in ALARM_KINDS)
"""Alerts the device is told of (`alert_received`). A duress alert is silent: the phone
must behave exactly as for an ordinary text."""

LANES: Final = ("alarm", "text", "bulk")
STORE_RETRY_MAX_SECONDS: Final = 0.5
"""The longest wait between tries while the store is down: an SOS held then must reach the
dispatcher well within 2 s of the store coming back (issue 10). At 1 s the waits (0.1, 0.2,
0.4, 0.8, 1) put the first SMS of an SOS held in a restart 2.0 s after the store was back."""
ADMIT_SLICE: Final = 200
"""Messages admitted in one turn of the loop, at most (plus every alarm waiting)."""
REASON_CHARS: Final = 500
"""How much of a failure's message is kept with a rejected message."""


class Link(Protocol):
    def ack(self, mid: int, qos: int) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


@runtime_checkable
class SessionLink(Link, Protocol):
    """A link that says what it knows of its broker session (MqttLink does)."""

    @property
    def connected(self) -> bool: ...
    @property
    def session_since(self) -> float: ...
    @property
    def covered_since(self) -> float: ...


def store_unavailable(exc: BaseException) -> bool:
    """A failure that says nothing about the messages: hold them and try again.

    Anything else (DataError, a transcoder's UnicodeEncodeError, a bug) is taken to be
    about some message in the group, which is then split until it is found.
    """
    return isinstance(exc, OperationalError | InterfaceError | ConnectionPoolClosedError | OSError)


@dataclass(frozen=True)
class _Item:
    message: InboundMessage
    reading: DeviceReading | None
    """None when validation itself failed: the message is recorded as rejected."""
    source: Link | None
    why: str = ""


class Gateway:
    """Device messages in, events out; `stats` is what /api/v1/health shows.

    `stats` keys (a Counter: absent means 0):
    - `recorded`, `duplicates`: messages committed, or found recorded already;
      `kind:<kind>` per kind recorded; `batches`, `batch_max`: group commits, largest group.
    - `rejected:<reason>`: messages refused and acknowledged, by reason (docs/devices.md);
      `rejected:unstorable` are those isolated after a failed commit and recorded as a
      RejectedDeviceMessage.
    - `rejected_fields`, `clock_skew`, `pressed_again`: flags on recorded messages.
    - `held`: messages waiting, unacknowledged, for an unavailable store (0 when healthy);
      `store_retries`: attempts that found the store unavailable.
    - `batches_failed`: group commits that failed for a reason other than the store being
      unavailable (each is split until the failing message is alone).
    - `alarms_salvaged`: alarms the store refused as sent, recorded without their fields.
    - `rejections_unrecorded`: isolated messages whose rejection could not be recorded
      either: left unacknowledged (the broker keeps them). Anything but 0 is a bug.
    - `validation_errors`: messages whose validation raised (a bug); recorded as rejected.
    - `alarm_copies_skipped`: alarm kinds the main session acknowledged without recording,
      because the alarm session has them; `alarms_via_main`: alarm kinds the main session
      recorded itself, because the alarm session was not known to have them.
    """

    def __init__(
        self,
        app: Lonewatch,
        *,
        prefix: str = "",
        max_batch: int = 500,
        intake: DeviceIntake | None = None,
        priority: AlarmPriority | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.max_batch = max_batch
        self.intake = intake or DeviceIntake(app)
        self.priority = priority or AlarmPriority()
        """Alarms first at the store's lock: an alarm is under way from `admit` until its
        commit is settled (the dispatcher takes it on from there); the bulk lane waits for
        a moment with none under way before it starts a group and before it saves one."""
        self.stats: Counter[str] = Counter()
        self._link: Link | None = None
        self._alarm_link: SessionLink | None = None
        self.on_notifications: Callable[[list[Notification]], None] | None = None
        """Given the notifications an alert asked for, as soon as they are committed."""
        self._lanes: dict[str, asyncio.Queue[_Item]] = {}
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox_lock = threading.Lock()
        self._inbox: list[tuple[InboundMessage, Link | None]] = []
        self._inbox_alarm: list[tuple[InboundMessage, Link | None]] = []

    def bind(self, link: Link, *, alarm: SessionLink | None = None) -> None:
        """`link` takes every device message; `alarm`, if given, only sos and fall.

        With an alarm link, alarm kinds reaching `link` are acknowledged there without
        being recorded, but only while the alarm session is known to have them queued
        too (`_alarm_session_covers`); otherwise the main session records them itself.
        """
        if alarm is not None and not isinstance(link, SessionLink):
            raise TypeError("with an alarm link, the main link must say what its session is")
        self._link = link
        self._alarm_link = alarm

    def receive_threadsafe(self, message: InboundMessage) -> None:
        """paho's thread calls this; the message crosses to the asyncio loop and nothing else."""
        self._hand_off(message, self._link, alarm=False)

    def receive_alarm_threadsafe(self, message: InboundMessage) -> None:
        """The alarm session's paho thread calls this."""
        self._hand_off(message, self._alarm_link, alarm=True)

    def _hand_off(self, message: InboundMessage, source: Link | None, *, alarm: bool) -> None:
        """Messages cross to the loop in batches: one wake-up of the loop (a self-pipe
        write, and a GIL hand-over) for whatever gathered meanwhile, not one per message.
        Under a heartbeat flood the per-message wake-ups cost paho's thread and the loop
        more than admitting the messages does."""
        loop = self._loop
        if loop is None or not self._lanes:
            return  # not running: unacknowledged, so the broker will deliver it again
        with self._inbox_lock:
            wake = not self._inbox_alarm and not self._inbox
            (self._inbox_alarm if alarm else self._inbox).append((message, source))
        if wake:
            loop.call_soon_threadsafe(self._admit_handed)

    def _admit_handed(self) -> None:
        """On the loop: every alarm handed over, then at most ADMIT_SLICE others; the rest
        in a later turn, so an alarm handed over meanwhile is not behind them."""
        with self._inbox_lock:
            alarms, self._inbox_alarm = self._inbox_alarm, []
            others, self._inbox = self._inbox[:ADMIT_SLICE], self._inbox[ADMIT_SLICE:]
            more = bool(self._inbox)
        if more and self._loop is not None:
            self._loop.call_soon(self._admit_handed)
        for message, source in alarms:
            self.admit(message, source)
        for message, source in others:
            self.admit(message, source)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._executors = {
            name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lw-gateway-{name}")
            for name in LANES
        }
        # A run restarted by the supervisor takes over the lanes as they stand: what waits
        # there is unacknowledged, and the broker would only deliver it again on a reconnect.
        if not self._lanes:
            self._lanes = {name: asyncio.Queue() for name in LANES}
        self._loop.call_soon(self._admit_handed)  # anything handed over before a restart
        try:
            async with asyncio.TaskGroup() as lanes:
                for name, queue in self._lanes.items():
                    lanes.create_task(self._serve(name, queue), name=f"gateway-{name}")
        except asyncio.CancelledError:
            alarms = self._lanes.get("alarm")
            if alarms is not None:  # dropped here, delivered again: no longer under way
                self.priority.leave(alarms.qsize())
            self._lanes = {}  # stopping: new messages stay unacknowledged at the broker
            raise
        finally:
            executors, self._executors = list(self._executors.values()), {}
            for executor in executors:
                executor.shutdown(wait=False, cancel_futures=True)
            # A commit in progress cannot be cancelled: wait for it before the store closes.
            await asyncio.to_thread(_join, executors)

    @property
    def backlog(self) -> dict[str, int]:
        return {name: queue.qsize() for name, queue in self._lanes.items()}

    def admit(self, message: InboundMessage, source: Link | None = None) -> None:
        """Check one message (cheap, on the loop) and put it in its lane, or refuse it."""
        source = source or self._link
        levels = topic_levels(message.topic, self.prefix)
        if (
            levels is not None
            and levels[1] in ALARM_KINDS
            and self._alarm_link is not None
            and source is self._link
        ):
            if self._alarm_session_covers():
                self.stats["alarm_copies_skipped"] += 1
                self._ack(message, source)
                return
            self.stats["alarms_via_main"] += 1
        try:
            parsed = parse_device_message(message.topic, message.payload, prefix=self.prefix)
        except Exception as exc:  # a bug in validation must not leave the message in limbo
            self.stats["validation_errors"] += 1
            log.exception("device_message_validation_failed", topic=safe_text(message.topic))
            self._queue(_unreadable(message, source, levels, exc))
            return
        if parsed is None:  # our own command topic
            self._ack(message, source)
            return
        if isinstance(parsed, Rejection):
            self._refuse(message, source, parsed.device_id, parsed.reason.value, parsed.detail)
            return
        if message.username is not None and message.username != parsed.device_id:
            self._refuse(
                message,
                source,
                parsed.device_id,
                "credential_mismatch",
                f"connected as {message.username!r} but published as device "
                f"{parsed.device_id!r}; a device may only publish under its own id",
            )
            return
        self._queue(_Item(message, parsed, source))

    def _alarm_session_covers(self) -> bool:
        """Whether every alarm the main session delivers is queued in the alarm session too.

        True while the alarm session is connected and its subscriptions were in place
        at the broker before the main session's current broker session began (so before
        any message in it was published). A new alarm session after the main one (the
        first start after an upgrade, an expired session) is not known to have what the
        main session holds: then the main session records alarms itself.
        """
        alarm, main = self._alarm_link, self._link
        if alarm is None or not isinstance(main, SessionLink):
            return False
        return alarm.connected and alarm.covered_since <= main.session_since

    def _queue(self, item: _Item) -> None:
        kind = item.reading.kind if item.reading is not None else ""
        lane = "alarm" if kind in ALARM_KINDS else "text" if kind == "message" else "bulk"
        queue = self._lanes.get(lane)
        if queue is not None:  # else stopping: left unacknowledged, delivered again
            if lane == "alarm":
                self.priority.enter()
            queue.put_nowait(item)

    async def _serve(self, name: str, queue: asyncio.Queue[_Item]) -> None:
        while True:
            items = [await queue.get()]
            while len(items) < self.max_batch and not queue.empty():
                items.append(queue.get_nowait())
            try:
                readable = [item for item in items if item.reading is not None]
                if readable:
                    await self._commit(name, readable)
                for item in items:
                    if item.reading is None:
                        await self._isolated(name, item, item.why)
            finally:
                if name == "alarm":
                    self.priority.leave(len(items))

    # -- committing ---------------------------------------------------------------

    async def _commit(self, lane: str, items: list[_Item]) -> None:
        """Record a group; on a failure that is not the store's, split it (bisect)."""
        readings = [item.reading for item in items if item.reading is not None]
        record = self._record_bulk if lane == "bulk" else self.intake.record
        try:
            results = await self._with_store(lane, len(items), record, readings)
        except Exception as exc:
            self.stats["batches_failed"] += 1
            log.warning(
                "device_batch_failed",
                lane=lane,
                count=len(items),
                error=_describe(exc),
                action="split" if len(items) > 1 else "isolate",
            )
            if len(items) > 1:
                half = len(items) // 2
                await self._commit(lane, items[:half])
                await self._commit(lane, items[half:])
            else:
                await self._isolated(lane, items[0], _describe(exc))
            return
        self.stats["batches"] += 1
        self.stats["batch_max"] = max(self.stats["batch_max"], len(items))
        self._settle_all(items, results)

    async def _isolated(self, lane: str, item: _Item, why: str) -> None:
        """One message that fails alone: try it once more, salvage an alarm, else reject."""
        reading = item.reading
        if reading is not None:
            try:  # a failure that does not repeat was not this message's fault
                results = await self._with_store(lane, 1, self.intake.record, [reading])
            except Exception as exc:
                why = _describe(exc)
            else:
                self._settle_all([item], results)
                return
        if reading is not None and reading.kind in ALARM_KINDS:
            # The alarm must not be lost: record it as a bare press of this device.
            bare = _bare_alarm(reading.device_id, reading.kind, f"the store refused it: {why}")
            try:
                results = await self._with_store(lane, 1, self.intake.record, [bare])
            except Exception as exc:
                why = f"{why}; bare alarm failed too: {_describe(exc)}"
                log.error("alarm_salvage_failed", device=reading.device_id, error=why)
            else:
                self.stats["alarms_salvaged"] += 1
                log.error("alarm_recorded_without_fields", device=reading.device_id, reason=why)
                self._settle_all([dataclasses.replace(item, reading=bare)], results)
                return
        try:
            await self._with_store(lane, 1, self._record_rejection, item, why)
        except Exception:
            # Never acknowledged unrecorded: the broker keeps it (one in-flight slot).
            self.stats["rejections_unrecorded"] += 1
            log.exception("device_message_rejection_unrecorded", topic=item.message.topic)
            return
        self._refuse(
            item.message,
            item.source,
            reading.device_id if reading is not None else None,
            "unstorable",
            f"recorded as rejected: {why}",
        )

    def _record_bulk(self, readings: list[DeviceReading]) -> list[Intaken]:
        """On the bulk lane's thread: let any alarm under way go first, at the start and
        again at the lock (a group takes a while to build, and an alarm may come meanwhile)."""
        with self.priority.bulk():
            self.priority.wait_turn()
            return self.intake.record(readings)

    def _record_rejection(self, item: _Item, why: str) -> None:
        """Runs on the lane's worker thread; everything recorded is plain ASCII or bounded."""
        message = item.message
        topic = safe_text(message.topic)
        levels = topic_levels(topic, self.prefix)
        device, kind = levels if levels is not None else (None, None)
        digest = hashlib.sha256(message.payload).hexdigest()
        rejected = RejectedDeviceMessage(
            topic=topic,
            raw_sha256=digest,
            device=device if device is not None and is_device_id(device) else None,
            kind=safe_text(kind)[:64] if kind is not None else None,
            reason=safe_text(why)[:REASON_CHARS],
            raw_base64=base64.b64encode(message.payload[:RAW_CAP_BYTES]).decode("ascii"),
            raw_size=len(message.payload),
            timestamp=self.app.clock.now(),
        )
        # The same bytes recorded already (redelivered after a crash) collide: that is fine.
        with contextlib.suppress(IntegrityError):
            self.app.save(rejected)

    async def _with_store(self, lane: str, count: int, call: Callable[..., T], *args: Any) -> T:
        """Run `call` on the lane's own thread, retrying for as long as the store is
        unavailable: the messages are held, not lost (and not acknowledged, so the broker
        holds them too). Any other failure is raised to the caller."""
        loop = asyncio.get_running_loop()
        executor = self._executors.get(lane)
        delay, holding = 0.1, False
        try:
            while True:
                try:
                    return await loop.run_in_executor(executor, call, *args)
                except Exception as exc:
                    if not store_unavailable(exc):
                        raise
                    if not holding:
                        holding = True
                        self.stats["held"] += count
                    self.stats["store_retries"] += 1
                    log.warning(
                        "event_store_unavailable", lane=lane, error=str(exc), retry_in=delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
        finally:
            if holding:
                self.stats["held"] -= count

    # -- after the commit -----------------------------------------------------------

    def _settle_all(self, items: list[_Item], results: list[Intaken]) -> None:
        requested = [n for result in results for n in result.requested]
        if requested and self.on_notifications is not None:
            try:
                self.on_notifications(requested)
            except Exception:
                # The dispatcher also follows the views: the SMS is late, not lost.
                log.exception("notifications_hand_off_failed", count=len(requested))
        for item, result in zip(items, results, strict=True):
            try:
                self._settle(item, result)
            except Exception:
                log.exception("device_message_settle_failed", topic=item.message.topic)
                self._ack(item.message, item.source)  # recorded: never leave it in flight

    def _settle(self, item: _Item, result: Intaken) -> None:
        reading, message = item.reading, item.message
        assert reading is not None
        if result.outcome is Outcome.UNKNOWN_DEVICE:
            self._refuse(
                message,
                item.source,
                reading.device_id,
                "unknown_device",
                f"device {reading.device_id!r} is not in the directory",
            )
            return
        self._ack(message, item.source)
        self.stats["duplicates" if result.outcome is Outcome.DUPLICATE else "recorded"] += 1
        if result.outcome is Outcome.RECORDED:
            self.stats[f"kind:{reading.kind}"] += 1
            for flag in result.flags:
                if flag != "duress":  # a silent alarm stays silent, even in counters
                    self.stats[flag] += 1
            if result.joined_open_alert:
                self.stats["pressed_again"] += 1
            if reading.rejected_fields:
                log.warning(
                    "alarm_fields_dropped",
                    device=reading.device_id,
                    kind=reading.kind,
                    fields=reading.rejected_fields,
                )
        if result.alert_id is not None and result.alert_kind in ANNOUNCED_ALERTS:
            self._command(
                reading.device_id, {"type": "alert_received", "alert_id": str(result.alert_id)}
            )
            log.info(
                "alert_message_recorded",
                device=reading.device_id,
                kind=reading.kind,
                alert=str(result.alert_id),
                duplicate=result.outcome is Outcome.DUPLICATE,
                joined_open_alert=result.joined_open_alert,
            )

    def _refuse(
        self,
        message: InboundMessage,
        source: Link | None,
        device: str | None,
        reason: str,
        detail: str,
    ) -> None:
        self.stats[f"rejected:{reason}"] += 1
        log.warning(
            "device_message_rejected",
            reason=reason,
            detail=safe_text(detail),
            device=device,
            topic=safe_text(message.topic),
        )
        self._ack(message, source)

    def _ack(self, message: InboundMessage, source: Link | None) -> None:
        link = source or self._link
        if link is not None:
            link.ack(message.mid, message.qos)

    def _command(self, device: str, payload: dict[str, Any]) -> None:
        """Commands go out on the main session (the alarm session only receives)."""
        link = self._link or self._alarm_link
        if link is not None:
            link.publish(cmd_topic(self.prefix, device), json.dumps(payload).encode(), qos=1)


def _join(executors: list[ThreadPoolExecutor]) -> None:
    for executor in executors:
        executor.shutdown(wait=True)


def _bare_alarm(device: str, kind: str, why: str) -> DeviceReading:
    """An alarm with nothing but its device and kind: what is left when the rest is unusable."""
    return DeviceReading(
        device_id=device,
        kind=kind,
        msg_id=None,
        device_ts=None,
        lat=None,
        lon=None,
        acc=None,
        battery=None,
        text=None,
        seq=None,
        rejected_fields={"payload": safe_text(why)[:REASON_CHARS]},
    )


def _unreadable(
    message: InboundMessage,
    source: Link | None,
    levels: tuple[str, str] | None,
    exc: BaseException,
) -> _Item:
    """A message validation could not read: an alarm goes through bare, the rest rejected."""
    why = f"validation failed: {_describe(exc)}"
    if levels is not None and levels[1] in ALARM_KINDS and is_device_id(levels[0]):
        return _Item(message, _bare_alarm(levels[0], levels[1], why), source, why)
    return _Item(message, None, source, why)


def _describe(exc: BaseException) -> str:
    return safe_text(f"{type(exc).__name__}: {exc}")[:REASON_CHARS]
