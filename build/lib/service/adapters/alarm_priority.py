"""Alarms first at the events table's lock.

eventsourcing takes `LOCK TABLE … IN EXCLUSIVE MODE` on every insert on PostgreSQL
(FIELD-NOTES.md), so every write to the store is serialised: an SOS commit, and the
dispatcher's record of its first SMS try, wait for whatever bulk group holds the lock
(a 500-heartbeat group holds it for 100 to 300 ms on this machine under a flood), and the
bulk lane's Python work competes with them for the GIL. Separate lanes and threads do not
help with either. So the alarm path announces itself here while it is under way (from
the moment the gateway admits an alarm until the dispatcher has recorded its first try),
and the bulk lane waits for a moment with no alarm under way before it starts a group
and again before it takes the lock. A group already holding the lock is never
interrupted: an alarm waits for at most one bulk insert, not for a queue of them.

The wait is bounded (`max_wait`), so a stream of alarms slows ingest but never stops it.
Thread-safe: the alarm path enters and leaves on the event loop, the bulk lane waits on
its own worker thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Final

MAX_WAIT: Final = 1.0
"""The longest one bulk step waits for alarms: an alarm's own path takes tens of ms."""


class AlarmPriority:
    def __init__(self, *, max_wait: float = MAX_WAIT) -> None:
        self.max_wait = max_wait
        self._under_way = 0
        self._changed = threading.Condition()
        self.yielded = 0
        """How many times bulk work waited for an alarm, and for how long in all."""
        self.yielded_seconds = 0.0
        self.waiting = 0
        """Bulk steps waiting now."""
        self._bulk = threading.local()

    @property
    def under_way(self) -> int:
        return self._under_way

    def enter(self, count: int = 1) -> None:
        """`count` alarm steps have begun: bulk work starts nothing new until they leave."""
        with self._changed:
            self._under_way += count

    def leave(self, count: int = 1) -> None:
        with self._changed:
            self._under_way = max(0, self._under_way - count)
            if not self._under_way:
                self._changed.notify_all()

    def wait_turn(self) -> bool:
        """Block (a bulk worker thread) while an alarm is under way, for at most `max_wait`.
        True when it went on with no alarm under way."""
        with self._changed:
            if not self._under_way:
                return True
            started = time.monotonic()
            self.waiting += 1
            try:
                clear = self._changed.wait_for(lambda: not self._under_way, self.max_wait)
            finally:
                self.waiting -= 1
            self.yielded += 1
            self.yielded_seconds += time.monotonic() - started
            return clear

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Marks bulk work on this thread: `at_lock` makes it wait there for alarms."""
        self._bulk.on = True
        try:
            yield
        finally:
            self._bulk.on = False

    def at_lock(self) -> None:
        """The event store calls this just before it takes the table's lock: bulk work
        (encoded and sealed by now, which takes a while) lets an alarm that came meanwhile
        go first; anything else goes straight on."""
        if getattr(self._bulk, "on", False):
            self.wait_turn()
