"""The last seal seen of each stream lately, so a save chains to it without reading it again.

Sealing an event that extends a stream needs the seal of the stream's event before it
(service/adapters/sealing.py). The unit of work has just read that event to rebuild the
aggregate; asking the database for it a second time cost an SOS's first notification
p50 1.9 ms, p90 10 ms and up to 43 ms under a flood (docs/performance.md, dispatch).

What is remembered is only ever a fact: a (stream, version) -> seal read from the store or
inserted by a transaction that committed. A committed event never changes, so a remembered
seal is right for its version, however old; the memo is used only when it holds exactly the
version before the one being saved. If the stream has moved on since (another writer), the
store's version check refuses the save, as it would have without the memo: a stale entry can
cost a refused save, never a wrong chain. Bounded: the streams remembered least recently go.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from threading import Lock
from uuid import UUID

STREAMS = 4096
"""How many streams are remembered: an SOS's alert and its notifications are read and
saved within milliseconds of each other; a few thousand outlasts that under any flood."""


class SealMemo:
    """(version, seal) of the last event seen of each of the streams seen lately; thread-safe."""

    def __init__(self, streams: int = STREAMS) -> None:
        self._streams = streams
        self._seals: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        """Keyed by the id's `.int` (hashed by C, a UUID's hash is a Python call); in the
        order they were last remembered, so the first is the one to forget. An `OrderedDict`
        forgets it in O(1): a plain dict's `del kept[next(iter(kept))]` walks the slots
        already emptied at its front, 2.0 against 0.2 us an event remembered at 4,096
        streams, paid for every heartbeat a flood commits (docs/performance.md, export6)."""
        self._lock = Lock()

    def seal_of(self, originator_id: UUID, version: int) -> bytes | None:
        """The seal of this version of the stream, if it is the one remembered; else None."""
        with self._lock:
            found = self._seals.get(originator_id.int)
        if found is None or found[0] != version:
            return None
        return found[1]

    def remember(self, seals: Iterable[tuple[UUID, int, bytes]]) -> None:
        """Remember these committed events' seals: (stream, version, seal), each one
        replacing what the stream had (the latest seen wins: a stream whose store was
        restored from a backup behind it is right again on its next read)."""
        with self._lock:
            kept = self._seals
            for originator_id, version, sealed in seals:
                key = originator_id.int
                kept[key] = (version, sealed)
                kept.move_to_end(key)
            while len(kept) > self._streams:
                kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seals)
