"""What waits in one of the gateway's lanes: admitted, not yet in a group, unacknowledged.

Not an `asyncio.Queue`: a lane has one producer (`Gateway.admit`, on the loop) and one
consumer (its `_serve` task, on the loop), is unbounded (the reading's backpressure is the
gateway's, by `qsize`), and is taken a group at a time. `asyncio.Queue` pays for what a
lane never uses on every message (`put_nowait`: the full check, the unfinished-task count
and its `Event`, waking a getter; `get_nowait` and `empty` per message taken: ~1.2 µs a
heartbeat on the loop, docs/performance.md, ingest8); here a message is a `deque.append`
and a group one slice. Loop-thread only, as the queue was.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LaneQueue(Generic[T]):
    """FIFO; `group(most)` waits for at least one item, then takes up to `most` at once."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # a cancelled consumer's waiter is done
                waiter.set_result(None)

    async def group(self, most: int) -> list[T]:
        """The oldest `most` items (at least one: waits for it), taken in order. If the
        waiting consumer is cancelled, nothing is taken: the items stay for the next one
        (a restarted run serves what its predecessor left)."""
        items = self._items
        while not items:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        if len(items) <= most:
            taken = list(items)
            items.clear()
            return taken
        popleft = items.popleft
        return [popleft() for _ in range(most)]
