"""A lane's work: record a group of device messages on the lane's own thread, then
acknowledge them. The order is the guarantee: a message is acknowledged to the broker
only after its event is committed (or its refusal is recorded), so a crash in between
means the broker delivers it again, and the store's uniqueness on device+id records it once.

Three lanes, each committing whatever has gathered as one transaction on a worker thread
of its own (never the shared default pool, where password hashing and exports run):
alarms (sos, fall), texts (message: a safe word raises duress, and checking it is slow on
purpose) and the rest (heartbeats and other readings).

A group that fails is never simply left unacknowledged: while the store is unavailable
it is held and retried; for any other failure it is split until the message that fails
is alone, and that one is recorded as rejected (or, for an alarm, recorded without its
fields) and acknowledged. No good message waits for a bad neighbour.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from device_gateway.acks import LANES, Acks, Item
from device_gateway.inbound import InboundMessage
from device_gateway.links import Link
from device_gateway.messages import (
    ALARM_KINDS,
    DeviceReading,
    is_device_id,
    safe_text,
    topic_levels,
)
from service.adapters.alarm_priority import AlarmPriority
from service.application.device_intake import DeviceIntake, Intaken
from service.application.lonewatch import Lonewatch
from service.domain.devices.rejected import RAW_CAP_BYTES, RejectedDeviceMessage
from service.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

CommitObserved = Callable[[str, int, float], None]
"""Told each group commit's lane, size and seconds (service/workers/metrics.py)."""


STORE_RETRY_MAX_SECONDS: Final = 0.5
"""The longest wait between tries while the store is down: an SOS held then must reach the
dispatcher well within 2 s of the store coming back (issue 10). At 1 s the waits (0.1, 0.2,
0.4, 0.8, 1) put the first SMS of an SOS held in a restart 2.0 s after the store was back."""
REASON_CHARS: Final = 500
"""How much of a failure's message is kept with a rejected message."""


def store_unavailable(exc: BaseException) -> bool:
    """A failure that says nothing about the messages: hold them and try again.

    Anything else (DataError, a transcoder's UnicodeEncodeError, a bug) is taken to be
    about some message in the group, which is then split until it is found.
    """
    return isinstance(exc, OperationalError | InterfaceError | ConnectionPoolClosedError | OSError)


class LaneRecorder:
    """Commits groups on one worker thread per lane, opened and closed with the gateway's run."""

    def __init__(
        self,
        app: Lonewatch,
        intake: DeviceIntake,
        priority: AlarmPriority,
        acks: Acks,
        stats: Counter[str],
        *,
        prefix: str,
        on_commit: CommitObserved | None = None,
    ) -> None:
        self.app = app
        self.on_commit = on_commit
        self.intake = intake
        self.priority = priority
        self.acks = acks
        self.stats = stats
        self.prefix = prefix
        self._executors: dict[str, ThreadPoolExecutor] = {}

    def open_threads(self) -> None:
        self._executors = {
            name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lw-gateway-{name}")
            for name in LANES
        }

    async def close_threads(self) -> None:
        executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)
        # A commit in progress cannot be cancelled: wait for it before the store closes.
        await asyncio.to_thread(_join, executors)

    async def commit(self, lane: str, items: list[Item]) -> None:
        """Record a group; on a failure that is not the store's, split it (bisect)."""
        readings = [item.reading for item in items if item.reading is not None]
        record = self._record_bulk if lane == "bulk" else self.intake.record
        started = time.monotonic()
        try:
            results = await self._with_store(lane, _devices(items), record, readings)
        except Exception as exc:
            self.stats["batches_failed"] += 1
            log.warning(
                "device_batch_failed",
                lane=lane,
                count=len(items),
                error=describe(exc),
                action="split" if len(items) > 1 else "isolate",
            )
            if len(items) > 1:
                half = len(items) // 2
                await self.commit(lane, items[:half])
                await self.commit(lane, items[half:])
            else:
                await self.isolated(lane, items[0], describe(exc))
            return
        self.stats["batches"] += 1
        self.stats["batch_max"] = max(self.stats["batch_max"], len(items))
        self.acks.settle_all(items, results)
        if self.on_commit is not None:  # after the acks: the alarm is not kept waiting
            self.on_commit(lane, len(items), time.monotonic() - started)

    async def isolated(self, lane: str, item: Item, why: str) -> None:
        """One message that fails alone: try it once more, salvage an alarm, else reject."""
        reading = item.reading
        if reading is not None:
            try:  # a failure that does not repeat was not this message's fault
                results = await self._with_store(
                    lane, [reading.device_id], self.intake.record, [reading]
                )
            except Exception as exc:
                why = describe(exc)
            else:
                self.acks.settle_all([item], results)
                return
        if reading is not None and reading.kind in ALARM_KINDS:
            # The alarm must not be lost: record it as a bare press of this device.
            bare = bare_alarm(reading.device_id, reading.kind, f"the store refused it: {why}")
            try:
                results = await self._with_store(
                    lane, [reading.device_id], self.intake.record, [bare]
                )
            except Exception as exc:
                why = f"{why}; bare alarm failed too: {describe(exc)}"
                log.error("alarm_salvage_failed", device=reading.device_id, error=why)
            else:
                self.stats["alarms_salvaged"] += 1
                log.error("alarm_recorded_without_fields", device=reading.device_id, reason=why)
                self.acks.settle_all([dataclasses.replace(item, reading=bare)], results)
                return
        try:
            await self._with_store(lane, _devices([item]), self._record_rejection, item, why)
        except Exception:
            # Never acknowledged unrecorded: the broker keeps it (one in-flight slot).
            self.stats["rejections_unrecorded"] += 1
            log.exception("device_message_rejection_unrecorded", topic=item.message.topic)
            return
        self.acks.refuse(
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

    def _record_rejection(self, item: Item, why: str) -> None:
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

    async def _with_store(
        self, lane: str, devices: list[str | None], call: Callable[..., T], *args: Any
    ) -> T:
        """Run `call` on the lane's own thread, retrying for as long as the store is
        unavailable: the messages are held, not lost (and not acknowledged, so the broker
        holds them too). Any other failure is raised to the caller. `devices`: whose
        messages these are, one entry each (None: a message too broken to name one)."""
        loop = asyncio.get_running_loop()
        count = len(devices)
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
                        "event_store_unavailable",
                        lane=lane,
                        error=str(exc),
                        retry_in=delay,
                        **waiting(devices),
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
        finally:
            if holding:
                self.stats["held"] -= count


WAITING_DEVICES_NAMED: Final = 10
"""How many devices an `event_store_unavailable` line names: enough for the operator to
see whose presses wait (health counts them only), bounded however large the group."""


def waiting(devices: list[str | None]) -> dict[str, Any]:
    """What a held group's log line says of it: how many messages wait, how many devices,
    and the first of them by name (sorted, so a retried group's lines read alike)."""
    named = sorted({d for d in devices if d is not None})
    return {
        "waiting": len(devices),
        "waiting_devices": len(named),
        "devices": named[:WAITING_DEVICES_NAMED],
    }


def _devices(items: list[Item]) -> list[str | None]:
    return [item.reading.device_id if item.reading is not None else None for item in items]


def _join(executors: list[ThreadPoolExecutor]) -> None:
    for executor in executors:
        executor.shutdown(wait=True)


def bare_alarm(device: str, kind: str, why: str) -> DeviceReading:
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


def unreadable(
    message: InboundMessage,
    source: Link | None,
    levels: tuple[str, str] | None,
    exc: BaseException,
) -> Item:
    """A message validation could not read: an alarm goes through bare, the rest rejected."""
    why = f"validation failed: {describe(exc)}"
    if levels is not None and levels[1] in ALARM_KINDS and is_device_id(levels[0]):
        return Item(message, bare_alarm(levels[0], levels[1], why), source, why)
    return Item(message, None, source, why)


def describe(exc: BaseException) -> str:
    return safe_text(f"{type(exc).__name__}: {exc}")[:REASON_CHARS]
