"""OwnTracks phones on the broker: their own session, one message at a time, ack after commit.

The phones publish to their own base topics (not `lw/v1/dev/...`), so they get a broker
session of their own (client id `{LW_MQTT_CLIENT_ID}-owntracks`), subscribed to each
directory phone's `{base}` and `{base}/event`. A message is acknowledged to the broker only
once it is recorded (or refused with a logged reason): while the store is down it is held
and tried again. The rate is a phone's (a location every few minutes), so no batching.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from device_gateway.inbound import InboundMessage
from device_gateway.messages import DeviceReading, safe_text
from device_gateway.owntracks import parse_owntracks
from service.application.device_intake import DeviceIntake, Outcome
from service.logs import get_logger

log = get_logger(__name__)

RETRY_FIRST: Final = 0.2
RETRY_MAX: Final = 5.0


class Acks(Protocol):
    def ack(self, mid: int, qos: int) -> None: ...


class OwnTracksPhones:
    """`on_left(device, region)` runs (in a thread) after a `leave` is recorded: the visit's
    "left the property" (service.application.phones)."""

    def __init__(
        self,
        intake: DeviceIntake,
        topics: Mapping[str, str],
        *,
        on_left: Callable[[str, str], object],
        on_recorded: Callable[[], object] = lambda: None,
        stats: Counter[str] | None = None,
    ) -> None:
        self.intake = intake
        self.topics = dict(topics)
        self.on_left = on_left
        self.on_recorded = on_recorded
        self.stats: Counter[str] = Counter() if stats is None else stats
        """Shared with the gateway's, so /api/v1/health counts phones' rejections too."""
        self._link: Acks | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[InboundMessage] | None = None

    def bind(self, link: Acks) -> None:
        self._link = link

    def receive_threadsafe(self, message: InboundMessage) -> None:
        """paho's thread: hand over and return."""
        if self._loop is None or self._queue is None:
            return  # not running: unacknowledged, the broker gives it again on resume
        self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    async def run(self, _state: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
        while True:
            message = await self._queue.get()
            await self._take(message)

    async def _take(self, message: InboundMessage) -> None:
        parsed = parse_owntracks(message.topic, message.payload, self.topics)
        if not isinstance(parsed, DeviceReading):
            self.stats[f"rejected:{parsed.reason.value}"] += 1
            log.warning(
                "device_message_rejected",
                source="owntracks",
                reason=parsed.reason.value,
                detail=safe_text(parsed.detail),
                device=parsed.device_id,
                topic=safe_text(message.topic),
            )
            self._ack(message)
            return
        delay = RETRY_FIRST
        while True:
            try:
                (result,) = await asyncio.to_thread(self.intake.record, [parsed])
                break
            except Exception as exc:  # held, not acknowledged: tried again until stored
                log.warning("owntracks_not_recorded", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        self.stats[f"owntracks:{result.outcome.value}"] += 1
        if result.outcome is not Outcome.UNKNOWN_DEVICE:
            self.on_recorded()
        if parsed.kind == "transition" and parsed.extra.get("event") == "leave":
            # Also for a redelivered one: if the first try died before this, it is done now.
            try:
                await asyncio.to_thread(self.on_left, parsed.device_id, str(parsed.extra["desc"]))
            except Exception:  # the leave is recorded; the visit can still be moved by text
                log.exception("owntracks_leave_not_applied", device=parsed.device_id)
        self._ack(message)

    def _ack(self, message: InboundMessage) -> None:
        if self._link is not None:
            self._link.ack(message.mid, message.qos)
