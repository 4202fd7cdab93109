"""Keeping the views live: wake on every local commit, poll for other processes' commits,
and hand each change to whoever listens (the SSE hub, the dispatcher, the MQTT fan-out)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from projections.projector import Change, Committed, Projector
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

Listener = Callable[[list[Change]], None]

HANDED_MAX = 20_000
"""Events handed over and not yet applied, at most: past this the views have fallen behind
the gateway, the handed events are let go and the views read from the store (as after a
restart); nothing is lost, only the shortcut."""


GATHER_FROM = 200
"""Events applied in one round past which the loop counts itself under load and gathers."""
GATHER_FOR = 0.2
"""Seconds the loop lets the gateway's groups gather after a round under load, before it
follows again: one commit (and one write of each document touched) for what a flood
records in that time, instead of one per group. An alarm does not wait for it (the gateway
hands SOS notifications to the dispatcher itself); the live feed is later by at most this."""


class LiveViews:
    def __init__(
        self,
        projector: Projector,
        *,
        poll_interval: float = 0.5,
        listeners: Sequence[Listener] = (),
        gather: float = GATHER_FOR,
    ) -> None:
        """`listeners` are given every batch of changes, in order, on the loop."""
        self.projector = projector
        self.poll_interval = poll_interval
        self.gather = gather
        self.last_applied = 0
        """Events the last `follow` applied itself (for gathering under load)."""
        self._listeners = tuple(listeners)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published: int | None = None
        self._handed: list[Committed] = []
        self._handed_lock = threading.Lock()
        self.handed_applied = 0
        """Events applied as handed over (not read back): for tests and benchmarks."""

    def hand_over(self, committed: Sequence[Committed]) -> None:
        """Safe from any thread: events just committed in this process, in position order
        (the gateway's groups). The next `follow` applies them without reading them back
        when they continue where the views stand; otherwise it reads, as without them."""
        with self._handed_lock:
            if len(self._handed) + len(committed) > HANDED_MAX:
                self._handed.clear()
            else:
                self._handed.extend(committed)
        self.wake()

    def _take_handed(self) -> list[Committed]:
        with self._handed_lock:
            handed, self._handed = self._handed, []
        # Lanes commit on their own threads: groups may arrive out of order.
        handed.sort(key=lambda item: item[0].id)
        return handed

    def follow(self, max_batches: int = 1_000_000) -> list[Change]:
        """Apply what is new, then return every change since the last one published here,
        whoever applied it (an API handler's read-your-writes, a CLI replay, another server).

        Events handed over that continue where the views stand are applied first, without
        a read; the store is read when there were none, or when some could not be applied
        (a gap: another writer committed in between), so nothing waits on the next group.
        """
        if self.published is None:
            self.published = self.projector.position()
        applied, ranges = self._apply_handed()
        if not ranges:
            applied, ranges = self.projector.catch_up_ranges(max_batches)
        position = self.projector.seen_position
        self.last_applied = sum(upto - after for after, upto in ranges)
        changes = list(applied)
        cursor = self.published
        for after, upto in [*sorted(ranges), (position, position)]:
            if after > cursor:  # a gap someone else applied
                changes.extend(self.projector.changes_between(cursor, after))
            cursor = max(cursor, upto)
        self.published = max(self.published, position)
        changes.sort(key=lambda change: change.position)
        return changes

    def _apply_handed(self) -> tuple[list[Change], list[tuple[int, int]]]:
        handed = self._take_handed()
        if not handed:
            return [], []
        done = self.projector.apply_committed(handed)
        if done is None:
            return [], []
        start, end, changes = done
        rest = [item for item in handed if item[0].id > end]
        if rest:
            with self._handed_lock:
                self._handed[:0] = rest
            self.wake()  # the next round takes them, or reads past a gap
        self.handed_applied += end - start
        return changes, [(start, end)]

    def wake(self) -> None:
        """Safe from any thread: an event was committed, catch up now rather than at the next poll."""
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
                self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, state: LoopState | None = None) -> None:
        """Follow until cancelled. A failed catch-up (the store is down) raises out of
        here; the supervisor logs it and starts following again."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            # One batch at a time, published before the next: an SOS recorded during
            # a heartbeat burst reaches the dispatcher without waiting for the burst.
            changes = await asyncio.to_thread(self.follow, 1)
            if state is not None:
                state.beat()
            if changes:
                self._publish(changes)
                if self._gathering():
                    await asyncio.sleep(self.gather)
                self._wake.set()  # there may be more: follow again at once
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the wake-up does, and shutdown then waits for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    def _gathering(self) -> bool:
        """Under load (the last round applied a good part of a batch) and not behind (it did
        not fill one: then more is waiting already, and waiting would only slow the
        catch-up): let the gateway's groups gather before the next round."""
        return self.gather > 0 and GATHER_FROM <= self.last_applied < self.projector.batch_size

    def _publish(self, changes: list[Change]) -> None:
        for listener in self._listeners:
            try:
                listener(changes)
            except Exception:
                log.exception("view_listener_failed", listener=repr(listener))


class Hub:
    """Fan-out to live subscribers, each with its own bounded queue: a slow browser
    is dropped (it reconnects and reloads) instead of stalling everyone else."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[
            int, tuple[asyncio.Queue[Change | None], Callable[[Change], bool]]
        ] = {}
        self._next = 0
        self._owners: dict[int, str] = {}
        self.dropped = 0

    def subscribe(
        self, accept: Callable[[Change], bool], owner: str | None = None
    ) -> tuple[int, asyncio.Queue[Change | None]]:
        """`owner`: the user whose stream it is, so `close_for` can end it."""
        self._next += 1
        queue: asyncio.Queue[Change | None] = asyncio.Queue(self.queue_size)
        self._subscribers[self._next] = (queue, accept)
        if owner is not None:
            self._owners[self._next] = owner
        return self._next, queue

    def unsubscribe(self, token: int) -> None:
        self._subscribers.pop(token, None)
        self._owners.pop(token, None)

    def close_for(self, owner: str) -> int:
        """End a user's streams (disabled, reset, given another role): their browser
        reconnects and is answered as the user now stands. Returns how many ended."""
        tokens = [t for t, who in self._owners.items() if who == owner]
        for token in tokens:
            entry = self._subscribers.pop(token, None)
            self._owners.pop(token, None)
            if entry is not None:
                with contextlib.suppress(asyncio.QueueFull):
                    entry[0].put_nowait(None)
        return len(tokens)

    def publish(self, changes: list[Change]) -> None:
        for token, (queue, accept) in list(self._subscribers.items()):
            for change in changes:
                if not accept(change):
                    continue
                try:
                    queue.put_nowait(change)
                except asyncio.QueueFull:
                    self.dropped += 1
                    self._subscribers.pop(token, None)
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(None)
                    log.warning("stream_subscriber_dropped", subscriber=token)
                    break

    def close_all(self) -> None:
        for queue, _ in self._subscribers.values():
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._subscribers.clear()
        self._owners.clear()

    @property
    def count(self) -> int:
        return len(self._subscribers)


def public_change(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, "event": change.event, "position": change.position, **change.doc}
