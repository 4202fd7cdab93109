"""What stored events decode to, what their streams' seals say, and their Merkle leaf hashes,
kept by the stored bytes themselves.

Each is a pure function of the bytes as stored (and of the application's mapper, hence
one `StoredRows` per application): a row read again with the same bytes gets the same
answer without decoding or hashing again; a row changed in the database is a new key,
so it is decoded and checked afresh. Nothing here is trusted without reading the row:
this spares the work, never the read. A record of 10,000 heartbeats decoded in ~175 ms
and sealed in ~118 ms (docs/performance.md); read again, each is a dictionary look-up.
Streams' ids are kept made from their text too (`stream_id`: the same text is the same
UUID), so that `clear` leaves a read as cold as a process's first.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from service.adapters.merkle_leaf_data import LeafFacts, leaf_data, leaf_hashes
from service.adapters.merkle_tree import leaf_hash
from service.adapters.sealing import StreamCheck, check_sealed, checks_sealed
from service.records.bounded import let_go_oldest

CAPACITY = 20_000
"""Entries of each kind kept (the oldest go first): two records of 10,000 events, some
tens of MB of decoded events at most in a serving process."""

T = TypeVar("T")


def _bytes(state: Any) -> bytes:
    return state if isinstance(state, bytes) else bytes(state)


def _id(originator_id: Any) -> Any:
    """A stream's id as a key: a UUID's int (the same equality; hashed and compared in C,
    where a UUID's own `__hash__` and `__eq__` are Python calls: 60,000 of them for a
    10,000-event record read again, docs/performance.md `export4`)."""
    return originator_id.int if isinstance(originator_id, UUID) else originator_id


def _stream_key(originator_id: UUID | int, stream: Sequence[StoredEvent]) -> tuple[Any, ...]:
    """A whole stream's key: (id, version, topic, bytes, version, topic, bytes...), 4 items
    only for a stream of one event (a heartbeat's: no tuple per event)."""
    if len(stream) == 1:
        (only,) = stream
        return (_id(originator_id), int(only.originator_version), only.topic, _bytes(only.state))
    return (
        _id(originator_id),
        *(part for s in stream for part in (int(s.originator_version), s.topic, _bytes(s.state))),
    )


class StoredRows:
    """Bounded, thread-safe memos keyed by stored bytes (see the module)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._events: dict[Hashable, Any] = {}
        self._streams: dict[Hashable, StreamCheck] = {}
        self._leaves: dict[Hashable, bytes] = {}
        self._ids: dict[str, UUID] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every kept answer: the next read decodes, seals and hashes afresh, as the
        first read of a record in a process does (`benchmarks/replay.py`'s cold export)."""
        with self._lock:
            self._events.clear()
            self._streams.clear()
            self._leaves.clear()
            self._ids.clear()

    def _memo(self, table: dict[Hashable, T], key: Hashable, make: Callable[[], T]) -> T:
        # Read without the lock: a look-up is one step under the GIL, and every key here
        # is ints, strings and bytes (no Python `__hash__` or `__eq__` to run mid-look-up).
        # The lock guards the writes and the eviction's iteration.
        found = table.get(key)
        if found is not None:
            return found
        return self._keep(table, key, make())

    def _keep(self, table: dict[Any, T], key: Any, made: T) -> T:
        """`made` kept under `key`, the oldest entries let go past `capacity`."""
        with self._lock:
            table[key] = made
            let_go_oldest(table, self.capacity)
        return made

    def _keep_all(self, table: dict[Any, T], made: Mapping[Any, T]) -> None:
        """Each of `made` kept, as `_keep` keeps one."""
        with self._lock:
            table.update(made)
            let_go_oldest(table, self.capacity)

    def event(self, to_domain_event: Callable[[StoredEvent], Any], stored: StoredEvent) -> Any:
        """The domain event these bytes decode to (events are not changed once decoded):
        `events` of one (a page's few rows; a record's many go to `events` at once)."""
        (found,) = self.events(to_domain_event, (stored,))
        return found

    def events(
        self, to_domain_event: Callable[[StoredEvent], Any], stored: Sequence[StoredEvent]
    ) -> list[Any]:
        """`event` of each, in order: those decoded afresh kept under one taking of the lock
        (a record's first read decodes 10,000; one taking and letting go each was ~3 ms)."""
        table = self._events
        found_all = []
        made: dict[Hashable, Any] = {}
        for row in stored:
            originator_id = row.originator_id
            state = row.state
            key = (
                originator_id.int if isinstance(originator_id, UUID) else originator_id,
                int(row.originator_version),
                row.topic,
                state if type(state) is bytes else bytes(state),
            )
            found = table.get(key)
            if found is None:
                found = made.get(key)
                if found is None:
                    found = made[key] = to_domain_event(row)
            found_all.append(found)
        if made:
            self._keep_all(table, made)
        return found_all

    def stream_id(self, text: str) -> UUID:
        """`UUID(text)`, kept by the text: a UUID is made from text in Python (~0.7 µs), and
        a record read again names the same streams (a look-up by text: ~0.1 µs)."""
        (found,) = self.stream_ids((text,))
        return found

    def stream_ids(self, texts: Sequence[str]) -> list[UUID]:
        """`stream_id` of each, in order, those made afresh kept under one taking of the lock."""
        table = self._ids
        found_all = []
        made: dict[str, UUID] = {}
        for text in texts:
            found = table.get(text)
            if found is None:
                found = made.get(text)
                if found is None:
                    found = made[text] = UUID(text)
            found_all.append(found)
        if made:
            self._keep_all(table, made)
        return found_all

    def stream_check(self, originator_id: UUID, stream: Sequence[StoredEvent]) -> StreamCheck:
        """`check_stream` of a whole stream, as read now (`check_sealed` makes it)."""
        key = _stream_key(originator_id, stream)
        return self._memo(self._streams, key, lambda: check_sealed(originator_id, stream))

    def stream_checks(
        self,
        streams: Mapping[UUID, Sequence[StoredEvent]] | Mapping[int, Sequence[StoredEvent]],
        names: Sequence[str] | None = None,
    ) -> list[StreamCheck]:
        """`stream_check` of each stream, in order: `_memo` written out for a record's
        streams (a device's 10,000 heartbeats are 10,000 streams), no call or closure each,
        and the checks made afresh kept under one taking of the lock. Streams keyed by their
        ids' numbers (`UUID.int`: replay.py's) come with `names`, each id's text as
        `str(UUID)` spells it, which their checks name them by (no `UUID` told as text)."""
        table = self._streams
        checks: list[StreamCheck | None] = []
        unchecked: list[tuple[int, Hashable, Any, Sequence[StoredEvent]]] = []
        for originator_id, stream in streams.items():
            number = originator_id.int if type(originator_id) is UUID else originator_id
            if len(stream) == 1 and type(number) is int:
                # `_stream_key` of a heartbeat's stream, without its two calls (cold, warm
                # and with the memos full alike: 10,000 a device's record).
                only = stream[0]
                state = only.state
                key = (
                    number,
                    int(only.originator_version),
                    only.topic,
                    state if type(state) is bytes else bytes(state),
                )
            else:
                key = _stream_key(originator_id, stream)
            found = table.get(key)
            if found is None:
                unchecked.append((len(checks), key, originator_id, stream))
            checks.append(found)
        if not unchecked:
            return cast("list[StreamCheck]", checks)
        made: dict[Hashable, StreamCheck] = {}
        named = [names[at] for at, _, _, _ in unchecked] if names is not None else None
        for (at, kept, _, _), check in zip(
            unchecked,
            checks_sealed(((u, stream) for _, _, u, stream in unchecked), named),
            strict=True,
        ):
            # A stream read twice in one record is checked twice and kept once, as before.
            checks[at] = made[kept] = check
        self._keep_all(table, made)
        return cast("list[StreamCheck]", checks)

    def leaf(
        self, position: int, originator_id: UUID, version: int, topic: str, state: bytes
    ) -> bytes:
        """The Merkle leaf hash of an event at a position, as stored (`_memo` written out:
        once per event a record's leaves are compared)."""
        data = state if type(state) is bytes else bytes(state)
        key = (position, _id(originator_id), version, topic, data)
        found = self._leaves.get(key)
        if found is None:
            made = leaf_hash(leaf_data(position, originator_id, version, topic, data))
            found = self._keep(self._leaves, key, made)
        return found

    def leaves(self, facts: Sequence[LeafFacts]) -> list[bytes]:
        """`leaf` of each, in order: those not kept hashed in one pass (`leaf_hashes`) and
        kept under one taking of the lock (a record's 10,000 leaves, one call, one taking
        and one letting go each: docs/performance.md, `export11`)."""
        table = self._leaves
        keys = [
            (position, originator_id.int, version, topic, state)
            for position, originator_id, version, topic, state in facts
        ]
        found_all: list[bytes | None] = [table.get(key) for key in keys]
        missing = [at for at, found in enumerate(found_all) if found is None]
        if not missing:
            return cast("list[bytes]", found_all)
        made = leaf_hashes([facts[at] for at in missing])
        for at, leaf in zip(missing, made, strict=True):
            found_all[at] = leaf
        self._keep_all(table, {keys[at]: leaf for at, leaf in zip(missing, made, strict=True)})
        return cast("list[bytes]", found_all)


_ALL: weakref.WeakKeyDictionary[Any, StoredRows] = weakref.WeakKeyDictionary()
_ALL_LOCK = threading.Lock()


def stored_rows_of(app: Any) -> StoredRows:
    """One per application: its mapper decodes (and may decrypt) the bytes."""
    with _ALL_LOCK:
        found = _ALL.get(app)
        if found is None:
            found = _ALL[app] = StoredRows()
        return found
