"""What a whole-record check found, kept for a short while so that each page of a long
record costs its own rows, not the record's (service/records/pages.py).

A page of 500 rows out of 10,000 events used to read, verify, decode and project all
10,000 for the verdict (`integrity`) and the subject as it stands (`state`), which cover
the whole record. A `Checked` is that work done once: for each event its position,
stream, version and recorded time; each stream's seal check and what the Merkle log said
of it; and the projected documents every `STEP` events (checkpoints), from which the
state at any page's start is a few events away.

Bounds, so a cached verdict cannot hide a change for long (docs/performance.md, "Pages
from a checked record"): an entry is used only while the subject's index is exactly
what was checked, for at most `TTL_SECONDS`; and every page still reads, verifies and
decodes its own rows (and their whole streams) from the database, and any difference
from the entry throws it away and checks the whole record again. A whole record
(`limit=all`) and an export never use it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from operator import attrgetter
from typing import Any, Protocol
from uuid import UUID

from projections.core import Doc
from projections.store import IndexEntry
from service.adapters.sealing import StreamCheck
from service.records.sound_blocks import Sound

_INT = attrgetter("int")

STEP = 100
"""Events between checkpoints: a page's start is at most STEP - 1 events (read, verified
and projected again) past one. 100 documents' shallow copies per 10,000 events."""
TTL_SECONDS = 60.0
"""How long a whole-record check stands for pages: a reader's "Show more" a minute later
is served from it; a change made in the database after it shows within this, at once
on the rows it touches, and always on the whole record and on exports."""
CAPACITY = 16
"""Records kept (the least recently read go first): a DSL's few open records."""


@dataclass(frozen=True)
class Checked:
    """One whole record as checked (see the module): events in recorded order."""

    entries: tuple[IndexEntry, ...]
    positions: list[int]
    stamps: list[datetime]
    streams: list[UUID]
    versions: list[int]
    of_stream: dict[UUID, list[int]]
    """Each stream's events (indexes into the lists above), for a check that is kept and
    read again (`read_again`) or grown (checked_growth.py). Empty in a check made for one
    page alone (instant_page.py) and in a saved state read back (saved_states.py)."""
    stream_order: list[UUID]
    checks: dict[UUID, StreamCheck]
    logged: dict[tuple[UUID, int], tuple[str, int | None]]
    """The Merkle log's problems by (stream, version): the words, and the position of an
    altered event (None: the event is gone; shown whatever the instant)."""
    checkpoints: dict[int, dict[tuple[str, str], Doc]]
    """Index of an event -> the projected documents just after it (every STEP-th)."""
    final: dict[tuple[str, str], Doc]
    checked_at: datetime
    monotonic: float
    verdicts: dict[tuple[int, bool], tuple[dict[str, Any], dict[tuple[UUID, int], str]]] = field(
        default_factory=dict
    )
    """The verdict on the first N events, made once for all the pages that show it."""
    seals: list[bytes | None] = field(default_factory=list)
    """Each event's seal as stored, where it recomputed (None: it did not), for as many
    events as `directory` and the checkpoints up to them were made with: a later cold
    page uses a checkpoint only over events whose seals are these (service/records/
    instant_page.py, saved states)."""
    directory: dict[tuple[str, str], Doc | None] = field(default_factory=dict)
    """The directory's documents the projection read (as `directory_reader` read them)."""
    sound: dict[int, Sound] = field(default_factory=dict)
    """Blocks of `stream_order` this process read and found sound (service/records/
    sound_blocks.py): only a check made here from rows it read has them, never one read
    back from the database."""

    @cached_property
    def stream_keys(self) -> list[int]:
        """`stream_order` by the streams' numbers (`UUID.int`): for `sound`, and the verdict's
        streams shown. Made from `stream_order` once a check (a grown check's own, not the
        one it grew from), never kept beside it."""
        return list(map(_INT, self.stream_order))


class Keeper(Protocol):
    """Where saved states outlive the process (service/records/saved_states.py)."""

    def load(self, subject: str) -> Checked | None: ...

    def save(self, subject: str, checked: Checked) -> None: ...


class RecordCache:
    """A bounded, thread-safe LRU of `Checked` by subject, each trusted for `ttl` seconds."""

    keeper: Keeper | None = None
    """Set by the composition root when saved states are kept in the database."""

    def __init__(
        self,
        capacity: int = CAPACITY,
        ttl: float = TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity, self.ttl, self.monotonic = capacity, ttl, monotonic
        self._entries: OrderedDict[str, Checked] = OrderedDict()
        self._saved: OrderedDict[str, Checked] = OrderedDict()
        """The last whole check of each subject, kept past `ttl` for its saved states."""
        self._lock = threading.Lock()

    def get(self, subject: str, entries: list[IndexEntry]) -> Checked | None:
        """The record as checked, if it is still what the index lists and young enough."""
        with self._lock:
            found = self._entries.get(subject)
            if found is None:
                return None
            if self.monotonic() - found.monotonic > self.ttl:
                del self._entries[subject]
                return None
            self._entries.move_to_end(subject)
        same = len(found.entries) == len(entries) and found.entries == tuple(entries)
        return found if same else None  # kept: `grown` may bring it up to date

    def grown(self, subject: str, entries: list[IndexEntry]) -> Checked | None:
        """The record as checked, if the index now lists it and more after it, and it is
        young enough: what was added is all that needs checking."""
        with self._lock:
            found = self._entries.get(subject)
        if found is None or self.monotonic() - found.monotonic > self.ttl:
            return None
        known = len(found.entries)
        if known >= len(entries) or tuple(entries[:known]) != found.entries:
            return None
        return found

    def put(self, subject: str, checked: Checked) -> None:
        with self._lock:
            for kept in (self._entries, self._saved):
                kept[subject] = checked
                kept.move_to_end(subject)
                while len(kept) > self.capacity:
                    kept.popitem(last=False)

    def drop(self, subject: str) -> None:
        """No page is served from the check any more; its saved states stay (see `saved`)."""
        with self._lock:
            self._entries.pop(subject, None)

    def saved(self, subject: str) -> Checked | None:
        """The subject's last whole check, however old and whatever the index says now:
        never trusted, only a source of saved states for the events that are found, read
        now, to be the very bytes it was made from (service/records/instant_page.py).
        None in memory: the one `keeper` kept, if any (a record not read since the start)."""
        with self._lock:
            found = self._saved.get(subject)
        if found is not None or self.keeper is None:
            return found
        found = self.keeper.load(subject)
        if found is not None:
            with self._lock:
                self._saved.setdefault(subject, found)
                self._saved.move_to_end(subject)
                while len(self._saved) > self.capacity:
                    self._saved.popitem(last=False)
        return found

    def keep(self, subject: str, checked: Checked) -> None:
        """`put`, and its saved states written to `keeper` (blocking: the background whole
        check calls this, never a page)."""
        self.put(subject, checked)
        if self.keeper is not None:
            self.keeper.save(subject, checked)

    def forget(self, subject: str) -> None:
        """The check and its saved states in memory: as if the record had never been read
        in this process (what `keeper` holds stays: a restart's first opening)."""
        with self._lock:
            self._entries.pop(subject, None)
            self._saved.pop(subject, None)


_CACHES: weakref.WeakKeyDictionary[Any, RecordCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(app: Any) -> RecordCache:
    """One cache per application (per store): tests run many in one process."""
    with _CACHES_LOCK:
        found = _CACHES.get(app)
        if found is None:
            found = _CACHES[app] = RecordCache()
        return found
