"""What stored events decode to, what their streams' seals say, and their Merkle leaf hashes,
kept by the stored bytes themselves.

Each is a pure function of the bytes as stored (and of the application's mapper, hence
one `StoredRows` per application): a row read again with the same bytes gets the same
answer without decoding or hashing again; a row changed in the database is a new key,
so it is decoded and checked afresh. Nothing here is trusted without reading the row:
this spares the work, never the read. A record of 10,000 heartbeats decoded in ~175 ms
and sealed in ~118 ms (docs/performance.md); read again, each is a dictionary look-up.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from service.adapters.merkle_log import leaf_data
from service.adapters.merkle_tree import leaf_hash
from service.adapters.sealing import StreamCheck, check_stream

CAPACITY = 20_000
"""Entries of each kind kept (the oldest go first): two records of 10,000 events, some
tens of MB of decoded events at most in a serving process."""

T = TypeVar("T")


def _bytes(state: Any) -> bytes:
    return state if isinstance(state, bytes) else bytes(state)


class StoredRows:
    """Bounded, thread-safe memos keyed by stored bytes (see the module)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._events: dict[Hashable, Any] = {}
        self._streams: dict[Hashable, StreamCheck] = {}
        self._leaves: dict[Hashable, bytes] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every kept answer: the next read decodes, seals and hashes afresh, as the
        first read of a record in a process does (`benchmarks/replay.py`'s cold export)."""
        with self._lock:
            self._events.clear()
            self._streams.clear()
            self._leaves.clear()

    def _memo(self, table: dict[Hashable, T], key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            found = table.get(key)
        if found is not None:
            return found
        made = make()
        with self._lock:
            table[key] = made
            while len(table) > self.capacity:
                del table[next(iter(table))]
        return made

    def event(self, to_domain_event: Callable[[StoredEvent], Any], stored: StoredEvent) -> Any:
        """The domain event these bytes decode to (events are not changed once decoded)."""
        key = (
            stored.originator_id,  # a UUID: hashed as its int, ~5 times quicker than str()
            int(stored.originator_version),
            stored.topic,
            _bytes(stored.state),
        )
        return self._memo(self._events, key, lambda: to_domain_event(stored))

    def stream_check(self, originator_id: UUID, stream: Sequence[StoredEvent]) -> StreamCheck:
        """`check_stream` of a whole stream, as read now."""
        key = (
            originator_id,
            tuple((int(s.originator_version), s.topic, _bytes(s.state)) for s in stream),
        )
        return self._memo(self._streams, key, lambda: check_stream(originator_id, stream))

    def leaf(
        self, position: int, originator_id: UUID, version: int, topic: str, state: bytes
    ) -> bytes:
        """The Merkle leaf hash of an event at a position, as stored."""
        data = _bytes(state)
        key = (position, originator_id, version, topic, data)
        return self._memo(
            self._leaves,
            key,
            lambda: leaf_hash(leaf_data(position, originator_id, version, topic, data)),
        )


_ALL: weakref.WeakKeyDictionary[Any, StoredRows] = weakref.WeakKeyDictionary()
_ALL_LOCK = threading.Lock()


def stored_rows_of(app: Any) -> StoredRows:
    """One per application: its mapper decodes (and may decrypt) the bytes."""
    with _ALL_LOCK:
        found = _ALL.get(app)
        if found is None:
            found = _ALL[app] = StoredRows()
        return found
