"""The device gateway: MQTT messages in, recorded in groups, then acknowledged.

The order is the guarantee: a message is acknowledged to the broker only after
its event is committed, so a crash in between means the broker delivers it
again (and the store's uniqueness on device+id records it once).

Messages wait in three lanes, each committing whatever has gathered as one
transaction: alarms (sos, fall), texts (message: a safe word raises duress, and
checking it is slow on purpose) and the rest (heartbeats and other readings).
An SOS never queues behind heartbeats; at most it waits for one commit in progress.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from eventsourcing.persistence import IntegrityError, PersistenceError

from device_gateway.intake import DeviceIntake, Intaken, Outcome
from device_gateway.messages import (
    ALARM_KINDS,
    DeviceReading,
    Rejection,
    cmd_topic,
    parse_device_message,
)
from device_gateway.mqtt_link import InboundMessage
from service.application import Lonewatch
from service.domain.alerts import AlertKind
from service.domain.notifications import Notification
from service.logs import get_logger

log = get_logger(__name__)

ANNOUNCED_ALERTS: Final = frozenset({AlertKind.SOS, AlertKind.FALL})
"""Alerts the device is told of (`alert_received`). A duress alert is silent: the phone
must behave exactly as for an ordinary text."""


class Link(Protocol):
    def ack(self, mid: int, qos: int) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


@dataclass(frozen=True)
class _Item:
    message: InboundMessage
    reading: DeviceReading


class Gateway:
    def __init__(
        self,
        app: Lonewatch,
        *,
        prefix: str = "",
        max_batch: int = 500,
        intake: DeviceIntake | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.max_batch = max_batch
        self.intake = intake or DeviceIntake(app)
        self.stats: Counter[str] = Counter()
        self._link: Link | None = None
        self.on_notifications: Callable[[list[Notification]], None] | None = None
        """Given the notifications an alert asked for, as soon as they are committed."""
        self._lanes: dict[str, asyncio.Queue[_Item]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, link: Link) -> None:
        self._link = link

    def receive_threadsafe(self, message: InboundMessage) -> None:
        """paho's thread calls this; the message crosses to the asyncio loop and nothing else."""
        if self._loop is None or not self._lanes:
            return  # not running: unacknowledged, so the broker will deliver it again
        self._loop.call_soon_threadsafe(self.admit, message)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self._lanes:  # restarted by the supervisor: what waits in the lanes stays
            self._lanes = {name: asyncio.Queue() for name in ("alarm", "text", "bulk")}
        async with asyncio.TaskGroup() as lanes:
            for name, queue in self._lanes.items():
                lanes.create_task(self._serve(name, queue), name=f"gateway-{name}")

    @property
    def backlog(self) -> dict[str, int]:
        return {name: queue.qsize() for name, queue in self._lanes.items()}

    def admit(self, message: InboundMessage) -> None:
        """Check one message (cheap, on the loop) and put it in its lane, or refuse it."""
        parsed = parse_device_message(message.topic, message.payload, prefix=self.prefix)
        if parsed is None:  # our own command topic
            self._ack(message)
            return
        if isinstance(parsed, Rejection):
            self._refuse(message, parsed.device_id, parsed.reason.value, parsed.detail)
            return
        if message.username is not None and message.username != parsed.device_id:
            self._refuse(
                message,
                parsed.device_id,
                "credential_mismatch",
                f"connected as {message.username!r} but published as device "
                f"{parsed.device_id!r}; a device may only publish under its own id",
            )
            return
        lane = (
            "alarm"
            if parsed.kind in ALARM_KINDS
            else "text"
            if parsed.kind == "message"
            else "bulk"
        )
        self._lanes[lane].put_nowait(_Item(message, parsed))

    async def _serve(self, name: str, queue: asyncio.Queue[_Item]) -> None:
        while True:
            items = [await queue.get()]
            while len(items) < self.max_batch and not queue.empty():
                items.append(queue.get_nowait())
            await self._commit(name, items)

    async def _commit(self, lane: str, items: list[_Item]) -> None:
        try:
            results = await self._record([item.reading for item in items])
        except Exception:
            # Not acknowledged: the broker redelivers them when the session resumes.
            self.stats["failed"] += len(items)
            log.exception("device_messages_failed", lane=lane, count=len(items))
            return
        self.stats["batches"] += 1
        self.stats["batch_max"] = max(self.stats["batch_max"], len(items))
        requested = [n for result in results for n in result.requested]
        if requested and self.on_notifications is not None:
            self.on_notifications(requested)
        for item, result in zip(items, results, strict=True):
            self._settle(item, result)

    async def _record(self, readings: list[DeviceReading]) -> list[Intaken]:
        """Record, retrying for as long as the store is unavailable: the messages are held,
        not lost (and not acknowledged, so the broker holds them too)."""
        delay = 0.1
        while True:
            try:
                return await asyncio.to_thread(self.intake.record, readings)
            except IntegrityError:
                raise
            except PersistenceError as exc:
                self.stats["store_retries"] += 1
                log.warning("event_store_unavailable", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _settle(self, item: _Item, result: Intaken) -> None:
        reading, message = item.reading, item.message
        if result.outcome is Outcome.UNKNOWN_DEVICE:
            self._refuse(
                message,
                reading.device_id,
                "unknown_device",
                f"device {reading.device_id!r} is not in the directory",
            )
            return
        self._ack(message)
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
        self, message: InboundMessage, device: str | None, reason: str, detail: str
    ) -> None:
        self.stats[f"rejected:{reason}"] += 1
        log.warning(
            "device_message_rejected",
            reason=reason,
            detail=detail,
            device=device,
            topic=message.topic,
        )
        self._ack(message)

    def _ack(self, message: InboundMessage) -> None:
        if self._link is not None:
            self._link.ack(message.mid, message.qos)

    def _command(self, device: str, payload: dict[str, Any]) -> None:
        if self._link is not None:
            self._link.publish(cmd_topic(self.prefix, device), json.dumps(payload).encode(), qos=1)
