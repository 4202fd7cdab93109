"""The device gateway: MQTT message in, immutable event recorded, then acknowledged.

The order is the guarantee: a message is acknowledged to the broker only after
its event is committed, so a crash in between means the broker delivers it
again (and the store's uniqueness on device+id records it once).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import PersistenceError

from device_gateway.messages import DeviceReading, Rejection, cmd_topic, parse_device_message
from device_gateway.mqtt_link import InboundMessage
from service.application import Lonewatch, Recorded, UnknownDevice
from service.logs import get_logger

log = get_logger(__name__)

SUPPORTED_KINDS = frozenset({"sos", "heartbeat"})
"""Recorded today; other kinds of INTERFACES.md section 2 are refused as not yet supported."""


class Link(Protocol):
    def ack(self, mid: int, qos: int) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


@dataclass(frozen=True)
class _Refusal:
    reason: str
    detail: str


class Gateway:
    def __init__(self, app: Lonewatch, *, prefix: str = "", max_batch: int = 200) -> None:
        self.app = app
        self.prefix = prefix
        self.max_batch = max_batch
        self.stats: Counter[str] = Counter()
        self._link: Link | None = None
        self._queue: asyncio.Queue[InboundMessage] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, link: Link) -> None:
        self._link = link

    def receive_threadsafe(self, message: InboundMessage) -> None:
        """paho's thread calls this; the message crosses to the asyncio loop and nothing else."""
        if self._loop is None or self._queue is None:
            return  # not running: unacknowledged, so the broker will deliver it again
        self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        while True:
            message = await self._queue.get()
            await self.handle(message)

    async def handle(self, message: InboundMessage) -> None:
        parsed = parse_device_message(message.topic, message.payload, prefix=self.prefix)
        if parsed is None:  # our own command topic
            self._ack(message)
            return
        if isinstance(parsed, Rejection):
            self._refuse(message, parsed.device_id, parsed.reason.value, parsed.detail)
            return
        if parsed.kind not in SUPPORTED_KINDS:
            self._refuse(
                message,
                parsed.device_id,
                "not_supported",
                f"kind '{parsed.kind}' is not yet supported; supported: "
                f"{', '.join(sorted(SUPPORTED_KINDS))}",
            )
            return
        try:
            recorded = await self._record(parsed)
        except UnknownDevice as exc:
            self._refuse(message, parsed.device_id, "unknown_device", str(exc))
            return
        except Exception:
            # Not acknowledged: the broker redelivers it when the session resumes.
            self.stats["failed"] += 1
            log.exception("device_message_failed", device=parsed.device_id, kind=parsed.kind)
            return
        self._ack(message)
        self.stats["duplicates" if recorded.duplicate else "recorded"] += 1
        self.stats[f"kind:{parsed.kind}"] += 1
        if recorded.alert_id is not None:
            self._command(
                parsed.device_id, {"type": "alert_received", "alert_id": str(recorded.alert_id)}
            )
            log.info(
                "alert_message_recorded",
                device=parsed.device_id,
                kind=parsed.kind,
                alert=str(recorded.alert_id),
                duplicate=recorded.duplicate,
            )

    async def _record(self, reading: DeviceReading) -> Recorded:
        """Record, retrying for as long as the store is unavailable: the message is held, not lost."""
        delay = 0.1
        while True:
            try:
                return await asyncio.to_thread(
                    self.app.record_device_message,
                    device=reading.device_id,
                    kind=reading.kind,
                    message_id=reading.msg_id,
                    device_ts=reading.device_ts,
                    fields=_fields(reading),
                )
            except PersistenceError as exc:
                self.stats["store_retries"] += 1
                log.warning("event_store_unavailable", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

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


def _fields(reading: DeviceReading) -> dict[str, Any]:
    values = {
        "lat": reading.lat,
        "lon": reading.lon,
        "acc": reading.acc,
        "battery": reading.battery,
        "seq": reading.seq,
    }
    return {k: v for k, v in values.items() if v is not None}
