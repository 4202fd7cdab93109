"""Following the event store: read what is new since the views' position, apply it, commit.

Synchronous and safe to run from several places at once (the server and a CLI
replay): the view store refuses a batch whose starting position has moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

from projections.collector import collector_paused
from projections.core import Doc, event_name
from projections.decoding import RowDecoder
from projections.doc_cache import UNKNOWN, DocCache
from projections.store import DocWrite, IndexEntry, ViewConflict, ViewStore
from projections.views import (
    FILTER_COLUMNS,
    PLAIN_DEVICE_MESSAGE,
    plain_device_message,
    project,
)
from service.adapters.event_rows import rows_after

VIEW_NAME = "lonewatch-views"
_NO_COLUMNS: tuple[None, None] = (None, None)
_RECEIVED = "DeviceMessage.Received"
FAR_BEHIND = 10_000
"""Events behind the head past which start-up rebuilds rather than catches up: two of the
live path's batches, where big pipelined batches begin to pay."""
LIVE_BATCH = 5_000
"""Events per commit of the live views and their catch-up, at most. Under a flood the live
loop gathers the gateway's groups into rounds this size (service/workers/live.py): with
1,000, rounds of ~500 heartbeats from 1,000 devices wrote each device's document for
nearly every heartbeat and read a third of the events back; gathered into rounds of up to
5,000, PostgreSQL's CPU for the views fell by about a third and the views' own by a sixth
(docs/performance.md, branch `views`)."""
REBUILD_BATCH = 50_000
"""Events per commit of a rebuild. A document is written once per batch however many
events touched it: with 10,000 devices, batches of 10,000 wrote each device's document
for each heartbeat (PostgreSQL's upserts were half its CPU); 50,000 write it a fifth as
often, for ~100 MB of events and documents in memory."""


class Change(NamedTuple):
    """A document as it stands after an event; fed to the live stream and the dispatcher.
    (A tuple: one is made for every document an event writes, and a frozen dataclass's
    `__init__` cost three times as much.)"""

    kind: str
    doc: Doc
    event: str
    position: int


Committed = tuple[Notification, Any | None]
"""An event as just committed: its notification (position and stored bytes) and, where the
writer can vouch that it equals what decoding the bytes gives, the domain event itself."""


@dataclass(frozen=True)
class _Batch:
    end: int
    changes: list[Change]
    writes: list[DocWrite]
    index: list[IndexEntry]
    docs: dict[tuple[str, str], Doc | None]


class Projector:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        store: ViewStore,
        *,
        batch_size: int = LIVE_BATCH,
        name: str = VIEW_NAME,
        cache_size: int = 200_000,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.store = store
        self.batch_size = batch_size
        self.name = name
        self._cache = DocCache(cache_size)
        self.seen_position = 0
        """The view's position as last read or moved here (saves a query after a catch-up)."""
        self.last_batch_full = False
        self._writing: Future[None] | None = None
        """A rebuild's batch being written by its writer thread."""
        self._decoder = RowDecoder(mapper)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def position(self) -> int:
        return self.store.position(self.name)

    def catch_up_once(self) -> list[Change]:
        """Apply at most one batch; returns what changed (empty when up to date)."""
        return self._apply_batch()[2]

    def _apply_batch(self) -> tuple[int, int, list[Change]]:
        """One batch: (the position it started after, the position it reached, changes)."""
        with collector_paused():  # see apply_committed
            return self._read_and_apply()

    def _read_and_apply(self) -> tuple[int, int, list[Change]]:
        start = self.store.position(self.name)
        self.seen_position = start
        if start != self._cache.position:
            self._cache.reset(start)
        # Plain rows and the rebuild's decoder (projections/decoding.py: the mapper's very
        # objects, for a fraction of the CPU), not the library's notifications and mapper.
        rows = rows_after(self.recorder, start, self.batch_size)
        self.last_batch_full = len(rows) >= self.batch_size
        if not rows:
            return start, start, []
        decode = self._decoder
        batch = self._project_events((row[0], decode(row)) for row in rows)
        self._commit(start, batch)
        return start, batch.end, batch.changes

    def apply_committed(
        self, committed: Sequence[Committed]
    ) -> tuple[int, int, list[Change]] | None:
        """Apply events a writer in this process has just committed, handed over with their
        positions, without reading them back: (the position it started after, the position
        reached, changes), or None when the views must read instead.

        Only a run that continues where this projector last committed is taken: positions
        are the store's (RETURNING), so `seen + 1, seen + 2, ...` means nothing another
        writer committed can sit in between; whatever is already applied is passed over.
        A run that starts further on (the gateway's lanes hand their groups over in
        whatever order their threads run, so a later group often comes first) has the
        events before it read from the store, those only: the store commits positions in
        order, so with the first handed event committed everything before it is visible,
        as a catch-up's read assumes too. Anything else (a gap within the run, a view
        someone else moved, a gap too long for one batch) is None, and the caller reads
        from the store as it always did. The view's commit still checks its position, so
        a race with another process is refused.

        The cycle collector waits meanwhile, as in a rebuild (projections/collector.py): a
        batch makes tens of thousands of tuples and dictionaries, and under a flood the
        collections they set off (full ones scanning the gateway's backlog too) cost the
        service a fifth of its CPU, measured (docs/performance.md, branch `views`).
        """
        with collector_paused():
            return self._apply_committed(committed)

    def _apply_committed(
        self, committed: Sequence[Committed]
    ) -> tuple[int, int, list[Change]] | None:
        start = self._cache.position
        if start is None or start != self.seen_position:
            return None
        fresh = [item for item in committed if item[0].id > start]
        if not fresh:
            return None
        events: list[tuple[int, Any]] = []
        first = fresh[0][0].id
        if first > start + 1:
            if first - start - 1 >= self.batch_size:
                return None
            decode = self._decoder
            events = [
                (row[0], decode(row))
                for row in rows_after(self.recorder, start, first - start - 1)
                if row[0] < first
            ]
        expected = first
        to_domain_event = self.mapper.to_domain_event
        for notification, event in fresh:
            if notification.id != expected or len(events) >= self.batch_size:
                break
            events.append((expected, to_domain_event(notification) if event is None else event))
            expected += 1
        batch = self._project_events(events)
        try:
            self._commit(start, batch)
        except ViewConflict:
            return None  # someone else moved the view: read from where they left it
        return start, batch.end, batch.changes

    def _project_events(
        self, events: Iterable[tuple[int, Any]], *, keep_changes: bool = True
    ) -> _Batch:
        """Run the views over events, each with its position: what to write, in memory only
        (and, unless told not to, the changes to hand to the live feed). The catch-up's and
        the rebuild's events (projections/decoding.py), the gateway's handed groups and the
        library mapper's are the same objects."""
        pending: dict[tuple[str, str], Doc | None] = {}
        cache = self._cache

        def read(kind: str, doc_id: str) -> Doc | None:
            key = (kind, doc_id)
            found = pending.get(key, UNKNOWN)
            if found is not UNKNOWN:
                return found
            found = cache.find(key)
            if found is UNKNOWN:
                self._settle_write()  # a rebuild's last batch may not be in the store yet
                found = self.store.get(kind, doc_id)
                cache.remember(key, found)
            pending[key] = found
            return found

        changes: list[Change] = []
        index: list[IndexEntry] = []
        # The documents the batch wrote, each as it last stood (a view's later write of a
        # key replaces it in `pending` too, and a read never replaces a written one there).
        docs: dict[tuple[str, str], Doc | None] = {}
        position = 0
        add_change, add_entry = changes.append, index.append
        new_tuple = tuple.__new__  # IndexEntry(...) without its Python-level __new__
        plain_kind = PLAIN_DEVICE_MESSAGE
        subjects: Sequence[str]
        for position, event in events:
            plain = plain_device_message(event, read) if type(event) is plain_kind else None
            if plain is not None:  # a reading's document, made without `project`'s dispatch
                device, subjects = plain
                key = ("device", event.device)
                pending[key] = docs[key] = device
                if keep_changes:
                    add_change(new_tuple(Change, ("device", device, _RECEIVED, position)))
            else:
                effects = project(event, read)
                written = effects.docs
                if written:
                    pending.update(written)
                    docs.update(written)
                    if keep_changes:
                        name = event_name(event)
                        for key, doc in written.items():
                            add_change(new_tuple(Change, (key[0], doc, name, position)))
                subjects = effects.subjects
            if subjects:
                # An append per row (a heartbeat has two), not a comprehension's frame.
                originator_id = str(event.originator_id)
                version = event.originator_version
                for subject in subjects:
                    add_entry(new_tuple(IndexEntry, (subject, position, originator_id, version)))
        # Each document written once, as the batch left it (last state wins).
        writes = []
        columns = FILTER_COLUMNS.get
        for (kind, doc_id), stored in docs.items():
            assert stored is not None  # touched means written by a view
            school_field, state_field = columns(kind, _NO_COLUMNS)
            school = stored.get(school_field) if school_field else None
            state = stored.get(state_field) if state_field else None
            writes.append(
                new_tuple(
                    DocWrite,
                    (
                        kind,
                        doc_id,
                        str(school) if school else None,
                        str(state) if state else None,
                        stored,
                    ),
                )
            )
        return _Batch(position, changes, writes, index, docs)

    def _commit(self, start: int, batch: _Batch) -> None:
        try:
            self._write(start, batch)
        except BaseException:
            self._cache.reset(None)
            raise
        self._cache.committed(batch.end, batch.docs)
        self.seen_position = batch.end

    def _write(self, start: int, batch: _Batch) -> None:
        self.store.commit(
            self.name, expected=start, position=batch.end, docs=batch.writes, index=batch.index
        )

    def catch_up_at_start(self, far_behind: int = FAR_BEHIND) -> int:
        """Catch the views up before the service serves; returns how far behind they were.

        Far behind (views dropped, or a new view store), the fast path: `rebuild`, in
        big pipelined batches with the cycle collector paused; nobody listens yet, so no
        changes are kept. Should another process be catching up the same views, its
        commits win and this one follows batch by batch, as it always did.
        """
        behind = self.head() - self.position()
        if behind > far_behind:
            with suppress(ViewConflict):
                self.rebuild()
        self.catch_up_ranges(keep_changes=False)
        return behind

    def rebuild(self, batch_size: int = REBUILD_BATCH, *, pause_collector: bool = True) -> int:
        """Apply everything new, in big batches, keeping no changes (nobody listens to a
        rebuild); returns the position reached.

        Pipelined: while one thread writes batch N (mostly waiting on the database),
        this one reads and projects batch N+1 against the documents N will have
        written (a document not in the cache is read from the store only once N is
        committed). Events are decoded by projections/decoding.py, to the objects the
        mapper makes. Should a write fail, the cache is dropped and the error raised:
        the view stays at the last committed batch, and the next catch-up resumes there.
        The cycle collector waits meanwhile (projections/collector.py): ~20% of the
        CPU, measured (`pause_collector=False` is the benchmark's comparison).
        """
        with collector_paused() if pause_collector else nullcontext():
            return self._rebuild(batch_size)

    def _rebuild(self, batch_size: int) -> int:
        start = self.store.position(self.name)
        if start != self._cache.position:
            self._cache.reset(start)
        decode = self._decoder
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lw-rebuild") as writer:
            try:
                while rows := rows_after(self.recorder, start, batch_size):
                    batch = self._project_events(
                        ((row[0], decode(row)) for row in rows), keep_changes=False
                    )
                    self._settle_write()
                    self._writing = writer.submit(self._write, start, batch)
                    self._cache.committed(batch.end, batch.docs)  # as it will stand
                    start = batch.end
                self._settle_write()
            finally:
                self._writing = None
        self.seen_position = start
        return start

    def _settle_write(self) -> None:
        """Wait for the rebuild's write in flight, if any; on its failure the cache (which
        holds what it would have written) is dropped and the error raised."""
        writing, self._writing = self._writing, None
        if writing is None:
            return
        try:
            writing.result()
        except BaseException:
            self._cache.reset(None)
            raise

    def changes_between(self, after: int, upto: int) -> list[Change]:
        """The documents touched by events (after, upto], as they stand now.

        For batches another process (or another caller here) applied: the live
        feed must show them too. Each document is given once, at its last event.
        """
        latest: dict[tuple[str, str], Change] = {}
        cache: dict[tuple[str, str], Doc | None] = {}

        def read(kind: str, doc_id: str) -> Doc | None:
            if (kind, doc_id) not in cache:
                cache[(kind, doc_id)] = self.store.get(kind, doc_id)
            return cache[(kind, doc_id)]

        start = after
        while start < upto:
            notifications = self.recorder.select_notifications(
                start=start, limit=self.batch_size, stop=upto, inclusive_of_start=False
            )
            if not notifications:
                break
            for notification in notifications:
                event: Any = self.mapper.to_domain_event(notification)
                for kind, doc_id in project(event, read).docs:
                    current = read(kind, doc_id)
                    if current is not None:
                        latest.pop((kind, doc_id), None)
                        latest[(kind, doc_id)] = Change(
                            kind, current, event_name(event), notification.id
                        )
            start = notifications[-1].id
        return list(latest.values())

    def catch_up(self, max_batches: int = 1_000_000) -> list[Change]:
        """Apply everything new and return what this call applied."""
        return self.catch_up_ranges(max_batches)[0]

    def catch_up_ranges(
        self, max_batches: int = 1_000_000, *, keep_changes: bool = True
    ) -> tuple[list[Change], list[tuple[int, int]]]:
        """Apply everything new; also say which ranges (after, upto] this call applied.

        A conflicting writer means someone else applied that batch: read on from
        where it left the view.
        """
        changes: list[Change] = []
        ranges: list[tuple[int, int]] = []
        for _ in range(max_batches):
            try:
                start, end, batch = self._apply_batch()
            except ViewConflict:
                continue
            if end == start:
                break
            ranges.append((start, end))
            if keep_changes:
                changes.extend(batch)
            if not self.last_batch_full:
                break  # reached the head as it was read: no need to ask again
        return changes, ranges
