"""'Poison never blocks' and 'alarms never wait', at the gateway's own boundary: what it
acknowledges to the broker and what it hands the store, with a scripted store.

The same rules on the real broker and databases: tests/integration/test_gateway_poison.py.
"""

from __future__ import annotations

import asyncio
import base64
import math
import threading
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from eventsourcing.persistence import DataError, OperationalError

from device_gateway.gateway import BACKLOG_GROUPS, Gateway
from device_gateway.inbound import InboundMessage
from device_gateway.links import Links
from device_gateway.messages import DeviceReading
from service.adapters.alarm_priority import AlarmPriority
from service.application.device_intake import Intaken, Outcome
from service.clock import FakeClock
from service.domain.devices.rejected import RAW_CAP_BYTES, RejectedDeviceMessage
from tests.harness import eventually


class FakeLink:
    """A broker session as the gateway sees it: acks, publishes, and what it knows of its session."""

    def __init__(
        self,
        *,
        connected: bool = True,
        session_since: float = -math.inf,
        covered_since: float = -math.inf,
    ) -> None:
        self.acked: list[int] = []
        self.published: list[tuple[str, bytes]] = []
        self.connected = connected
        self.session_since = session_since
        self.covered_since = covered_since

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.published.append((topic, payload))


class ScriptedStore:
    """Stands in for the intake and the application: records what it is given, and fails
    as told: `unavailable` batches (store down), or any batch holding a poisoned id."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.recorded: list[DeviceReading] = []
        self.rejections: list[RejectedDeviceMessage] = []
        self.batches: list[int] = []
        self.unavailable = 0
        self.rejections_unavailable = 0
        self.poison = "poison"
        self.lock = threading.Lock()

    # the intake
    def record(self, readings: Sequence[DeviceReading]) -> list[Intaken]:
        with self.lock:
            self.batches.append(len(readings))
            if self.unavailable:
                self.unavailable -= 1
                raise OperationalError("connection refused")
            if any((r.msg_id or "").startswith(self.poison) for r in readings):
                raise DataError("invalid byte sequence for encoding UTF8")
            self.recorded.extend(readings)
            return [Intaken(Outcome.RECORDED) for _ in readings]

    # the application
    def save(self, *aggregates: Any) -> None:
        with self.lock:
            if self.rejections_unavailable:
                self.rejections_unavailable -= 1
                raise OperationalError("the database system is starting up")
            self.rejections.extend(aggregates)


def message(mid: int, kind: str, payload: bytes, device: str = "sos-0001") -> InboundMessage:
    return InboundMessage(f"lw/v1/dev/{device}/{kind}", payload, mid=mid, qos=1, dup=False)


def heartbeat(mid: int, msg_id: str) -> InboundMessage:
    return message(mid, "heartbeat", b'{"id": "%s"}' % msg_id.encode())


@pytest.fixture
async def running() -> AsyncIterator[tuple[Gateway, ScriptedStore, FakeLink]]:
    store = ScriptedStore()
    link = FakeLink()
    gateway = Gateway(cast(Any, store), intake=cast(Any, store), sessions=Links(link))
    task = asyncio.create_task(gateway.run())
    await eventually(lambda: gateway.backlog, what="the gateway's lanes")
    try:
        yield gateway, store, link
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_poison_message_in_a_group_is_isolated_and_every_good_one_recorded(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    gateway, store, link = running
    big_poison = b'{"id": "poison-1", "pad": "%s"}' % (b"x" * 2000)
    for mid in range(1, 101):
        gateway.admit(heartbeat(mid, f"hb-{mid}"))
        if mid == 37:
            gateway.admit(message(1000, "heartbeat", big_poison))
    await eventually(lambda: len(link.acked) == 101, what="every message acknowledged")
    assert sorted(r.msg_id or "" for r in store.recorded) == sorted(
        f"hb-{n}" for n in range(1, 101)
    )
    (rejected,) = store.rejections
    assert (rejected.device, rejected.kind, rejected.topic) == (
        "sos-0001",
        "heartbeat",
        "lw/v1/dev/sos-0001/heartbeat",
    )
    assert base64.b64decode(rejected.raw_base64) == big_poison[:RAW_CAP_BYTES]
    assert rejected.raw_size == len(big_poison) > RAW_CAP_BYTES
    assert "DataError" in rejected.reason
    assert gateway.stats["rejected:unstorable"] == 1
    assert gateway.stats["batches_failed"] >= 2  # the group, then the poison alone
    assert gateway.stats["recorded"] == 100


async def test_while_the_store_is_unavailable_messages_are_held_not_acknowledged_or_split(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    gateway, store, link = running
    store.unavailable = 3
    for mid in range(1, 11):
        gateway.admit(heartbeat(mid, f"hb-{mid}"))
    await eventually(lambda: gateway.stats["store_retries"] >= 2, what="retries")
    assert link.acked == [], "acknowledged while the store was down"
    assert gateway.stats["held"] == 10
    await eventually(lambda: len(link.acked) == 10, what="all acknowledged once the store is back")
    assert gateway.stats["held"] == 0
    assert gateway.stats["batches_failed"] == 0
    assert store.rejections == []
    assert len(store.recorded) == 10


async def test_a_rejection_is_never_acknowledged_before_it_is_recorded(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    gateway, store, link = running
    store.rejections_unavailable = 2  # the store goes down just as the poison is found
    gateway.admit(heartbeat(5, "poison-5"))
    await eventually(lambda: gateway.stats["store_retries"] >= 1, what="the rejection retried")
    assert link.acked == [], "acknowledged before the rejection was recorded"
    await eventually(lambda: link.acked == [5], what="acknowledged once recorded")
    assert len(store.rejections) == 1


async def test_an_alarm_the_store_refuses_is_recorded_bare_and_answered(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    """The alarm must not be lost: what cannot be stored is dropped, the press is kept."""
    gateway, store, link = running
    gateway.admit(message(9, "sos", b'{"id": "poison-sos", "lat": 51.5}'))
    await eventually(lambda: link.acked == [9], what="the SOS acknowledged")
    (bare,) = store.recorded
    assert (bare.kind, bare.device_id, bare.msg_id, bare.lat) == ("sos", "sos-0001", None, None)
    assert "DataError" in bare.rejected_fields["payload"]
    assert gateway.stats["alarms_salvaged"] == 1
    assert store.rejections == []


async def test_a_message_validation_cannot_read_is_recorded_as_rejected(
    running: tuple[Gateway, ScriptedStore, FakeLink], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, store, link = running

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in validation")

    monkeypatch.setattr("device_gateway.gateway.parse_device_message", broken)
    gateway.admit(heartbeat(3, "hb-3"))
    gateway.admit(message(4, "fall", b"{}", device="sos-0002"))
    await eventually(lambda: sorted(link.acked) == [3, 4], what="both acknowledged")
    assert [r.reason for r in store.rejections] == [
        "validation failed: RuntimeError: a bug in validation"
    ]
    assert [(r.kind, r.device_id) for r in store.recorded] == [("fall", "sos-0002")]
    assert gateway.stats["validation_errors"] == 2


# -- the two sessions ------------------------------------------------------------------------

T_ALARM, T_MAIN = 10.0, 20.0  # monotonic instants: the alarm session subscribed first


@pytest.mark.parametrize(
    ("main_session_since", "alarm_covered_since", "alarm_connected", "main_records"),
    [
        (-math.inf, -math.inf, True, False),  # both sessions resumed: as they were
        (T_MAIN, T_ALARM, True, False),  # first-ever start: alarm subscribed, then main
        (T_MAIN, -math.inf, True, False),  # main session lost and begun again
        (-math.inf, T_ALARM, True, True),  # first start after an upgrade: main had a backlog
        (T_ALARM, T_MAIN, True, True),  # alarm session lost, begun after the main one
        (T_MAIN, math.inf, True, True),  # alarm session new, its SUBACK not yet back
        (-math.inf, -math.inf, False, True),  # alarm session not connected
    ],
    ids=[
        "resumed",
        "first-start",
        "main-new",
        "upgrade",
        "alarm-new",
        "alarm-subscribing",
        "alarm-down",
    ],
)
def test_the_main_session_leaves_alarms_to_the_alarm_session_only_when_it_has_them(
    main_session_since: float, alarm_covered_since: float, alarm_connected: bool, main_records: bool
) -> None:
    store = ScriptedStore()
    main = FakeLink(session_since=main_session_since)
    alarm = FakeLink(connected=alarm_connected, covered_since=alarm_covered_since)
    gateway = Gateway(cast(Any, store), intake=cast(Any, store), sessions=Links(main, alarm))
    queued: list[object] = []
    gateway._queue = queued.append  # type: ignore[method-assign]
    gateway.admit(message(1, "sos", b'{"id": "p-1"}'), main)
    gateway.admit(message(2, "heartbeat", b"{}"), main)
    gateway.admit(message(3, "sos", b'{"id": "p-1"}'), alarm)
    assert len(queued) == (3 if main_records else 2)
    assert main.acked == ([] if main_records else [1])
    assert gateway.stats["alarms_via_main" if main_records else "alarm_copies_skipped"] == 1


async def test_an_sos_is_recorded_while_the_shared_worker_pool_is_saturated(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    """'Nothing an anonymous client can trigger may share a queue with an SOS': a login
    flood's password checks fill the default pool; the gateway's lanes have their own threads."""
    gateway, _, link = running
    loop = asyncio.get_running_loop()
    released = threading.Event()
    busy = ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(busy)
    blocked = loop.run_in_executor(None, released.wait)
    try:
        gateway.admit(message(11, "sos", b'{"id": "p-11"}'))
        gateway.admit(heartbeat(12, "hb-12"))
        await eventually(lambda: sorted(link.acked) == [11, 12], what="recorded and acknowledged")
        assert not blocked.done(), "the shared pool was free after all"
    finally:
        released.set()
        await blocked


# -- alarms first at the store's lock -------------------------------------------------------


class OrderedStore(ScriptedStore):
    """Holds an alarm's commit open until released, and logs when each group starts and ends."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.alarm_may_commit = threading.Event()

    def record(self, readings: Sequence[DeviceReading]) -> list[Intaken]:
        alarm = any(r.kind == "sos" for r in readings)
        what = "alarm" if alarm else "bulk"
        self.log.append(f"{what} starts")
        if alarm:
            self.alarm_may_commit.wait(timeout=30)
        self.log.append(f"{what} ends")
        return [Intaken(Outcome.RECORDED) for _ in readings]


async def test_a_bulk_group_does_not_start_while_an_alarm_is_committing() -> None:
    """Every insert takes the events table's lock (FIELD-NOTES.md): a heartbeat group that
    starts while an SOS is being committed holds the SOS up. The bulk lane waits its turn."""
    store = OrderedStore()
    link = FakeLink()
    gateway = Gateway(
        cast(Any, store),
        intake=cast(Any, store),
        priority=AlarmPriority(max_wait=60),
        sessions=Links(link),
    )
    task = asyncio.create_task(gateway.run())
    try:
        await eventually(lambda: gateway.backlog, what="the gateway's lanes")
        gateway.admit(message(1, "sos", b'{"id": "p-1"}'))
        await eventually(lambda: store.log == ["alarm starts"], what="the alarm committing")
        gateway.admit(heartbeat(2, "hb-2"))
        await eventually(lambda: gateway.priority.waiting == 1, what="the bulk lane waiting")
        assert store.log == ["alarm starts"], "a bulk group started beside the alarm"
        store.alarm_may_commit.set()
        await eventually(lambda: sorted(link.acked) == [1, 2], what="both acknowledged")
        assert store.log == ["alarm starts", "alarm ends", "bulk starts", "bulk ends"]
        assert gateway.priority.under_way == 0
    finally:
        store.alarm_may_commit.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_alarm_waiting_in_its_lane_keeps_bulk_groups_back_too() -> None:
    """From the moment it is admitted: an alarm queued behind another alarm is under way."""
    store = OrderedStore()
    link = FakeLink()
    gateway = Gateway(
        cast(Any, store),
        intake=cast(Any, store),
        priority=AlarmPriority(max_wait=60),
        sessions=Links(link),
    )
    task = asyncio.create_task(gateway.run())
    try:
        await eventually(lambda: gateway.backlog, what="the gateway's lanes")
        gateway.admit(message(1, "sos", b'{"id": "p-1"}'))
        await eventually(lambda: store.log == ["alarm starts"], what="the first alarm committing")
        gateway.admit(message(2, "sos", b'{"id": "p-2"}', device="sos-0002"))
        gateway.admit(heartbeat(3, "hb-3"))
        await eventually(lambda: gateway.priority.waiting == 1, what="the bulk lane waiting")
        store.alarm_may_commit.set()
        await eventually(lambda: sorted(link.acked) == [1, 2, 3], what="all acknowledged")
        assert store.log.index("bulk starts") > max(
            i for i, entry in enumerate(store.log) if entry == "alarm ends"
        ), store.log
        assert gateway.priority.under_way == 0
    finally:
        store.alarm_may_commit.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_only_bulk_work_waits_for_alarms_at_the_lock() -> None:
    """The store calls `at_lock` for every insert; only the bulk lane's thread waits there."""
    priority = AlarmPriority(max_wait=60)
    priority.enter()
    priority.at_lock()  # not bulk work: straight on
    assert priority.yielded == 0
    done = threading.Event()

    def bulk() -> None:
        with priority.bulk():
            priority.at_lock()
        done.set()

    worker = threading.Thread(target=bulk)
    worker.start()
    deadline = time.monotonic() + 30
    while priority.waiting != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert priority.waiting == 1 and not done.is_set()
    priority.leave()
    worker.join(timeout=30)
    assert done.is_set() and priority.yielded == 1


async def test_a_bulk_backlog_pauses_the_main_sessions_reading_until_the_lane_catches_up(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    """Backpressure: reading a flood faster than it is recorded only queues it here (and
    takes the GIL from the lane that records it); left at the broker it costs nothing."""
    gateway, store, link = running
    total = (BACKLOG_GROUPS + 1) * gateway.max_batch + 100
    with store.lock:  # the bulk lane's first group waits at the store
        for mid in range(1, total + 1):
            gateway.admit(heartbeat(mid, f"hb-{mid}"))
        await eventually(lambda: store.lock.locked(), what="held")
        assert gateway.reading_paused
        # paho's main-session thread hands one more over, and waits (at most BACKLOG_WAIT)
        # before it reads on; counted for health.
        reader = threading.Thread(
            target=gateway.receive_threadsafe, args=(heartbeat(total + 1, "hb-late"),)
        )
        reader.start()
        await asyncio.to_thread(reader.join, 30)
        assert not reader.is_alive() and gateway.stats["reading_waits"] == 1
    total += 1
    await eventually(lambda: len(link.acked) == total, what="every message acknowledged")
    assert not gateway.reading_paused
    assert len(store.recorded) == total


async def test_the_reading_is_paused_once_as_the_backlog_crosses_not_per_message(
    running: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    """Every message queued behind the mark used to clear the pause again (`Event.clear`
    takes a lock in Python, ~0.6 µs on the loop, for most of a flood's messages)."""
    gateway, store, link = running
    clears: list[int] = []
    room = gateway._room
    clear = room.clear

    def counted() -> None:
        clears.append(1)
        clear()

    room.clear = counted  # type: ignore[method-assign]
    total = (BACKLOG_GROUPS + 2) * gateway.max_batch
    with store.lock:  # the bulk lane's first group waits at the store
        for mid in range(1, total + 1):
            gateway.admit(heartbeat(mid, f"hb-{mid}"))
        await eventually(lambda: store.lock.locked(), what="held")
        assert gateway.reading_paused and len(clears) == 1
    await eventually(lambda: len(link.acked) == total, what="every message acknowledged")
    assert not gateway.reading_paused and len(store.recorded) == total
