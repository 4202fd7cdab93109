"""The device gateway: MQTT messages in, recorded in groups, then acknowledged.

The order is the guarantee: a message is acknowledged to the broker only after
its event is committed, so a crash in between means the broker delivers it
again (and the store's uniqueness on device+id records it once).

Here: the hand-off from paho's threads to the loop, admission (the cheap checks), and
the three lanes served until cancelled; what a lane does with a group (record it, held
while the store is down and split around a bad message, then acknowledge) is in
`lanes.py`. Alarms also have a broker session of their own (`sessions.py`;
docs/gateway.md, "Two sessions").
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Final

from device_gateway.acks import LANES, Acks, HandOff, Item, Pressed, lane_of
from device_gateway.inbound import InboundMessage
from device_gateway.lane_queue import LaneQueue
from device_gateway.lanes import CommitObserved, LaneRecorder, unreadable
from device_gateway.links import Link, Links, SessionLink, Sessions
from device_gateway.messages import (
    ALARM_KINDS,
    Rejection,
    parse_device_message,
    safe_text,
    topic_levels,
)
from service.adapters.alarm_priority import AlarmPriority
from service.application.device_intake import DeviceIntake
from service.application.lonewatch import Lonewatch
from service.logs import get_logger

log = get_logger(__name__)

ADMIT_SLICE: Final = 200
"""Messages admitted in one turn of the loop, at most (plus every alarm waiting)."""
BACKLOG_GROUPS: Final = 4
"""The main session's reading waits while the bulk lane holds this many groups
(`max_batch` each), until it is down to half: see `Gateway._hand_off`."""
BACKLOG_WAIT: Final = 0.25
"""The longest one wait for room (seconds): a stuck lane slows the reading, never stops it."""


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
    - `reading_waits`: times the main session's reading waited for the bulk lane
      (backpressure, BACKLOG_GROUPS): a flood faster than the store, left at the broker.
    """

    def __init__(
        self,
        app: Lonewatch,
        *,
        sessions: Sessions | None = None,
        on_notifications: HandOff | None = None,
        prefix: str = "",
        max_batch: int = 500,
        intake: DeviceIntake | None = None,
        priority: AlarmPriority | None = None,
        on_pressed: Pressed | None = None,
        on_commit: CommitObserved | None = None,
    ) -> None:
        """`sessions`: the links to acknowledge and publish on (none by default); they call
        `receive_threadsafe` / `receive_alarm_threadsafe`. `on_notifications` is given the
        notifications an alert asked for as soon as they are committed (the dispatcher);
        `on_pressed` and `on_commit` are the metrics' observers (service/workers/metrics.py)."""
        self.app = app
        self.prefix = prefix
        self.max_batch = max_batch
        self.intake = intake or DeviceIntake(app)
        self.priority = priority or AlarmPriority()
        """Alarms first at the store's lock: an alarm is under way from `admit` until its
        commit is settled (the dispatcher takes it on from there); the bulk lane waits for
        a moment with none under way before it starts a group and before it saves one."""
        self.sessions: Sessions = sessions or Links()
        self.stats: Counter[str] = Counter()
        self.acks = Acks(
            self.sessions,
            self.stats,
            prefix=prefix,
            on_notifications=on_notifications,
            on_pressed=on_pressed,
        )
        self.recorder = LaneRecorder(
            app,
            self.intake,
            self.priority,
            self.acks,
            self.stats,
            prefix=prefix,
            on_commit=on_commit,
        )
        self._lanes: dict[str, LaneQueue[Item]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox_lock = threading.Lock()
        self._inbox: list[tuple[InboundMessage, Link | None]] = []
        self._inbox_alarm: list[tuple[InboundMessage, Link | None]] = []
        self._room = threading.Event()
        self._room.set()
        self._loop_thread: int | None = None

    # -- from paho's threads to the loop ----------------------------------------------

    def receive_threadsafe(self, message: InboundMessage) -> None:
        """paho's thread calls this; the message crosses to the asyncio loop and nothing else."""
        self._hand_off(message, self.sessions.main, alarm=False)

    def receive_alarm_threadsafe(self, message: InboundMessage) -> None:
        """The alarm session's paho thread calls this."""
        self._hand_off(message, self.sessions.alarm, alarm=True)

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
        # Backpressure: while the bulk lane is BACKLOG_GROUPS groups behind, the main
        # session's thread waits before it reads on. A flood read faster than it can be
        # recorded only queues here, unacknowledged, and its reading takes the GIL from the
        # bulk lane that records it; left at the broker it costs the service nothing until
        # there is room. The alarm session never waits.
        if not alarm and not self._room.is_set() and threading.get_ident() != self._loop_thread:
            self.stats["reading_waits"] += 1
            self._room.wait(BACKLOG_WAIT)

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

    # -- the lanes ----------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.recorder.open_threads()
        # A run restarted by the supervisor takes over the lanes as they stand: what waits
        # there is unacknowledged, and the broker would only deliver it again on a reconnect.
        if not self._lanes:
            self._lanes = {name: LaneQueue() for name in LANES}
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
            self._room.set()
            await self.recorder.close_threads()

    @property
    def reading_paused(self) -> bool:
        """Whether the main session's reading waits for the bulk lane (BACKLOG_GROUPS)."""
        return not self._room.is_set()

    @property
    def backlog(self) -> dict[str, int]:
        return {name: queue.qsize() for name, queue in self._lanes.items()}

    def admit(self, message: InboundMessage, source: Link | None = None) -> None:
        """Check one message (cheap, on the loop) and put it in its lane, or refuse it."""
        main = self.sessions.main
        source = source or main
        levels = topic_levels(message.topic, self.prefix)
        if (
            levels is not None
            and levels[1] in ALARM_KINDS
            and self.sessions.alarm is not None
            and source is main
        ):
            if self._alarm_session_covers():
                self.stats["alarm_copies_skipped"] += 1
                self.acks.ack(message, source)
                return
            self.stats["alarms_via_main"] += 1
        try:
            parsed = parse_device_message(message.topic, message.payload, prefix=self.prefix)
        except Exception as exc:  # a bug in validation must not leave the message in limbo
            self.stats["validation_errors"] += 1
            log.exception("device_message_validation_failed", topic=safe_text(message.topic))
            self._queue(unreadable(message, source, levels, exc))
            return
        if parsed is None:  # our own command topic
            self.acks.ack(message, source)
            return
        if isinstance(parsed, Rejection):
            self.acks.refuse(message, source, parsed.device_id, parsed.reason.value, parsed.detail)
            return
        if message.username is not None and message.username != parsed.device_id:
            self.acks.refuse(
                message,
                source,
                parsed.device_id,
                "credential_mismatch",
                f"connected as {message.username!r} but published as device "
                f"{parsed.device_id!r}; a device may only publish under its own id",
            )
            return
        self._queue(Item(message, parsed, source))

    def _alarm_session_covers(self) -> bool:
        """Whether every alarm the main session delivers is queued in the alarm session too.

        True while the alarm session is connected and its subscriptions were in place
        at the broker before the main session's current broker session began (so before
        any message in it was published). A new alarm session after the main one (the
        first start after an upgrade, an expired session) is not known to have what the
        main session holds: then the main session records alarms itself.
        """
        alarm, main = self.sessions.alarm, self.sessions.main
        if alarm is None or not isinstance(main, SessionLink):
            return False
        return alarm.connected and alarm.covered_since <= main.session_since

    def _queue(self, item: Item) -> None:
        lane = lane_of(item)
        queue = self._lanes.get(lane)
        if queue is not None:  # else stopping: left unacknowledged, delivered again
            if lane == "alarm":
                self.priority.enter()
            elif self._room.is_set() and queue.qsize() >= BACKLOG_GROUPS * self.max_batch:
                # Cleared once as the backlog crosses, not again for every message behind
                # it: `Event.clear` takes its condition's lock in Python (~0.6 µs), and
                # under a flood the lane stays past the mark for most of the run.
                self._room.clear()
            queue.put_nowait(item)

    async def _serve(self, name: str, queue: LaneQueue[Item]) -> None:
        while True:
            items = await queue.group(self.max_batch)
            if name != "alarm" and queue.qsize() <= BACKLOG_GROUPS * self.max_batch // 2:
                self._room.set()
            try:
                readable = [item for item in items if item.reading is not None]
                if readable:
                    await self.recorder.commit(name, readable)
                for item in items:
                    if item.reading is None:
                        await self.recorder.isolated(name, item, item.why)
            finally:
                if name == "alarm":
                    self.priority.leave(len(items))
