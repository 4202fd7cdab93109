"""A page as of an instant of a long record with no kept check (issue 12: ≤ 100 ms for a
10,000-event record), answered from the events recorded by then while a worker checks
the whole (service/records/pages.py hands that over).

What it reads and checks, as the whole check does: every event up to the instant's
place and `instant_cut.MARGIN` after it (instant_cut.py finds the place), their whole
streams read once as plain rows (`stream_rows`), every seal and every Merkle leaf
checked: a block of streams whose rows and leaves digest, read now, to what the last
whole check in this process read and found sound takes that check's verdict on them
(sound_blocks.py: equal bytes, equal verdict), every other stream has each seal
recomputed and each leaf compared (row_checks.py). So an event up to the instant that
was altered, removed or moved fails the answer at once (`verified: false`); the rest of
the record is the whole check's.

What it decodes and projects: only what the answer needs. Recorded times and states up
to a saved state are taken from the subject's last whole check (`RecordCache.saved`,
kept past its minute) when every event up to that state is, read now, the very event it
was made from: the same position, stream and version, its seal recomputing now and then
and the same seal both times (so the same bytes: a seal is a SHA-256 over them), and the
directory's documents its projection read are the same now. Past that state (or from
the start when there is none: a record not read since the process started) the events
are decoded (`projections.decoding.RowDecoder`, the mapper's very events, faster) and
projected as the whole check would. An instant whose events are most of the record is
checked whole first and kept (verdict given).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

from projections.core import Doc
from projections.decoding import RowDecoder
from projections.store import IndexEntry, ViewStore
from projections.views import project
from service.adapters.event_rows import EventRow, one_connection
from service.adapters.event_streams import stream_rows_named_ahead
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import HEADER_BYTES, MAGIC
from service.application.lonewatch import Lonewatch
from service.records import instant_cut
from service.records.checked_pages import Memory, answer, before, check, recorded_by
from service.records.record_cache import STEP, Checked, RecordCache
from service.records.record_shape import Page, while_checking
from service.records.row_checks import leaves_logged, stream_sealed
from service.records.sound_blocks import by_block, proved
from service.records.stream_numbers import hexes as hexes_of
from service.records.stream_numbers import stream_numbers
from service.records.subject_states import directory_doc, directory_reader


def instant_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    as_of: datetime,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
) -> dict[str, Any] | None:
    """A page as of `as_of` from the events recorded by then alone (see the module), with
    the verdict on them alone, "checking". None: the instant is not where its few rows
    said, or nothing was recorded by then (the caller checks the whole record first).

    Called within `views.held()` (pages.py `_paged` holds it from the index read on): the
    views' reads here (the directory's documents, staff names) share that connection."""
    prefix: _Prefix | None = None
    with one_connection(app.recorder) as conn:
        place = instant_cut.place_of(app, entries, as_of, conn)
        read = entries[: (place or 0) + instant_cut.MARGIN]
        if place and len(read) < len(entries) * instant_cut.WHOLE_FROM:
            prefix = _Prefix(app, views, subject, read, merkle, cache, conn)
    if not place:
        return None
    if prefix is None:
        whole, events = check(app, views, subject, entries, merkle, cache.monotonic())
        if recorded_by(whole, as_of) != place:
            return None
        cache.put(subject, whole)
        return answer(
            app,
            views,
            subject,
            whole,
            as_of,
            merkle,
            zone,
            page,
            lambda needed: {i: events[i] for i in needed},
        )
    if recorded_by(prefix.checked, as_of) != place:
        return None
    found = answer(
        app,
        views,
        subject,
        prefix.checked,
        as_of,
        merkle,
        zone,
        page,
        prefix.events,
        directory=prefix.directory,
    )
    if found is None:
        return None
    # Known: an altered event the answer was made from. Not known yet: the rest.
    while_checking(found["integrity"])
    return found


class _Prefix:
    """The record's first events (`read`) checked as the whole check checks them, decoded
    and projected only as far as a page needs (see the module): `checked` is what the
    whole check of these events alone would make, `events` decodes any of them."""

    def __init__(
        self,
        app: Lonewatch,
        views: ViewStore,
        subject: str,
        read: Sequence[IndexEntry],
        merkle: MerkleLog | None,
        cache: RecordCache,
        conn: Any = None,
    ) -> None:
        horizon = merkle.size(conn)[1] if merkle is not None else 0
        # Streams keyed by their ids' numbers (`UUID.int`): an int hashes in C, a UUID in
        # Python, and the index's texts become them without `UUID(text)` (docs/performance.md,
        # asof4; all at once, stream_numbers.py). Each stream's `UUID` is the one its rows
        # were read with.
        texts = list(map(_ORIGINATOR, read))
        # The streams' rows, asked for by the index's texts now and read once the index is
        # grouped: the server reads them meanwhile (docs/performance.md, asof12). The same
        # rows whatever the names' order or repeats (`= ANY`).
        with stream_rows_named_ahead(
            app.recorder, list(dict.fromkeys(texts)), conn=conn
        ) as rows_read:
            keys = stream_numbers(texts)
            # Each (stream, version) the index names -> its position (a later naming of the
            # same one wins), and the streams in the order the index first names them: both
            # made in C, not a Python step an event (docs/performance.md, asof13).
            versions = zip(keys, map(_VERSION, read), strict=True)
            named = dict(zip(versions, map(_ENTRY_POSITION, read), strict=True))
            of_key: dict[int, list[EventRow]] = {key: [] for key in dict.fromkeys(keys)}
            # Each `UUID.hex` of the streams, for the leaves' query and `by_block`: made once.
            hexes = hexes_of(of_key)
            # Read while the server still reads the rows (~9-14 ms for 5,100 streams, more
            # than the grouping above; docs/performance.md, asof13): the last whole check (read
            # back from the database after a restart, on a connection of its own) and the
            # directory's documents as they stand now (on the views' held connection). Those
            # are read once for this page: the saved state is compared with them, and every
            # projection below (and the page's own, in `answer`) reads them from here.
            saved = cache.saved(subject)
            self.directory = _directory_now(views, saved)
            found_rows = rows_read()
        uuids: list[UUID] = list(map(_STREAM, found_rows))
        row_keys = list(map(_INT, uuids))
        # Each number's first `UUID` (the last written of the reversed wins), made in C.
        ids: dict[int, UUID] = dict(zip(row_keys[::-1], uuids[::-1], strict=True))
        order = [ids.get(key) or UUID(int=key) for key in of_key]
        # The log's leaves of these streams, asked for now and read once the rows are
        # grouped: the server looks them up meanwhile (docs/performance.md, asof11).
        if merkle is None:
            grouped, leaves = _grouped(named, of_key, row_keys, found_rows), []
        else:
            with merkle.stream_leaf_rows_ahead(order, conn, hexes=hexes) as leaves_read:
                grouped = _grouped(named, of_key, row_keys, found_rows)
                leaves = leaves_read()
        rows, self.rows, positions, streams, versions_ = grouped
        # Each stream with its rows, in the index's order: a list, not a dict keyed by
        # `UUID` (a hash in Python per stream; docs/performance.md, asof6).
        stored = list(zip(order, of_key.values(), strict=True))
        # An event the index places elsewhere than its row (moved) is worded by the checks
        # one by one: a block's digest is of its rows and leaves, not of the index.
        moved = positions != list(map(_POSITION, self.rows))
        then = saved.checks if saved is not None else {}
        # The leaves by block; the blocks whose rows and leaves are byte for byte those the
        # last whole check found sound take its streams' checks, the rest are checked event
        # by event (service/records/sound_blocks.py).
        blocks = by_block(hexes, leaves, horizon)
        known, sealed, rest_leaves = proved(
            list(of_key),
            list(of_key.values()),
            blocks,
            saved.stream_keys if saved is not None else [],
            saved.sound if saved is not None and not moved else {},
        )
        checks = {
            u: known[i] if i in known else stream_sealed(u, found, sealed, then.get(u))
            for i, (u, found) in enumerate(stored)
        }
        # Only the streams not proved are checked against their leaves, event by event.
        rest = [(u, found) for i, (u, found) in enumerate(stored) if i not in known]
        logged: dict[tuple[UUID, int], tuple[str, int | None]] = {}
        if merkle is not None and rest_leaves:
            logged = leaves_logged(merkle, stored, rest, rows, horizon, rest_leaves)
        self.decode = RowDecoder(app.mapper)
        self.decoded: dict[int, Any] = {}
        seals = [
            row[4][len(MAGIC) : HEADER_BYTES] if row[0] in sealed else None for row in self.rows
        ]
        kept = _kept(saved, positions, streams, versions_, seals, self.directory)
        checkpoints: dict[int, Memory] = {}
        stamps: list[datetime] = []
        memory: Memory = {}
        if saved is not None and kept >= 0:
            checkpoints = {i: m for i, m in saved.checkpoints.items() if i <= kept}
            stamps = saved.stamps[: kept + 1]
            memory = dict(saved.checkpoints[kept])
        stamps += [self._event(i).timestamp for i in range(kept + 1, len(self.rows))]
        # States to project a page from, every STEP-th (a page's own rows are projected
        # from the checkpoint before them), and the state after the last event read.
        reader = directory_reader(views, memory, self.directory)
        for index in range(kept + 1, len(self.rows)):
            memory.update(project(self._event(index), reader).docs)
            if index % STEP == STEP - 1:
                checkpoints[index] = dict(memory)
        # No `of_stream`: this check answers this page alone (`answer`, its rows decoded
        # here), never kept, grown or read again, which are what read it (a `UUID` hash a
        # stream, and each stream's places found, for nothing; docs/performance.md, asof13).
        self.checked = Checked(
            entries=tuple(read),
            positions=positions,
            stamps=stamps,
            streams=streams,
            versions=versions_,
            of_stream={},
            stream_order=order,
            checks=checks,
            logged=logged,
            checkpoints=checkpoints,
            final=memory,
            directory=dict(self.directory),
            checked_at=app.clock.now(),
            monotonic=cache.monotonic(),
        )

    def _event(self, index: int) -> Any:
        found = self.decoded.get(index)
        if found is None:
            found = self.decoded[index] = self.decode(self.rows[index])
        return found

    def events(self, needed: list[int]) -> dict[int, Any]:
        return {i: self._event(i) for i in needed}


_POSITION = itemgetter(0)
_ENTRY_POSITION = attrgetter("position")
_VERSION = attrgetter("originator_version")
_INT = attrgetter("int")
_ORIGINATOR = attrgetter("originator_id")
_STREAM = itemgetter(1)


def _grouped(
    named: dict[tuple[int, int], int],
    of_key: dict[int, list[EventRow]],
    row_keys: list[int],
    found_rows: list[EventRow],
) -> tuple[list[tuple[int, EventRow]], list[EventRow], list[int], list[UUID], list[int]]:
    """The rows read put in `of_key` by their stream's number, and those the index names
    (`named`: (stream's number, version) -> position) in its order: (position, row) pairs,
    the rows, their positions, streams and versions."""
    for key, row in zip(row_keys, found_rows, strict=True):
        of_key[key].append(row)
    rows: list[tuple[int, EventRow]] = []
    for key, found in of_key.items():
        for row in found:
            position = named.get((key, row[2]))
            if position is not None:
                rows.append((position, row))
    rows.sort(key=_POSITION)  # (position, row): its position, read in C
    in_order = [row for _, row in rows]
    positions = [p for p, _ in rows]
    streams: list[UUID] = [row[1] for row in in_order]  # type: ignore[misc]
    versions = [row[2] for row in in_order]
    return rows, in_order, positions, streams, versions


def _all_same(
    reach: int,
    saved: Checked,
    positions: list[int],
    streams: list[UUID],
    versions: list[int],
    seals: list[bytes | None],
) -> bool:
    """`_kept`'s test for all of the first `reach` events at once, each list compared in C
    (the usual case: nothing changed since the saved state; one of them per event in a
    generator was ~4 ms of a cold page as of the middle). Streams by their numbers: two
    `UUID`s read at different times are different objects, compared in Python each."""
    return (
        None not in seals[:reach]
        and seals[:reach] == saved.seals[:reach]
        and positions[:reach] == saved.positions[:reach]
        and versions[:reach] == saved.versions[:reach]
        and list(map(_INT, streams[:reach])) == list(map(_INT, saved.streams[:reach]))
    )


def _directory_now(views: ViewStore, saved: Checked | None) -> dict[tuple[str, str], Doc | None]:
    """The directory's documents a saved state was projected with, as they stand now (none
    when it has no checkpoint to stand for anything: `_kept` then keeps nothing)."""
    if saved is None or not saved.checkpoints:
        return {}
    return {key: directory_doc(views, *key) for key in saved.directory}


def _kept(
    saved: Checked | None,
    positions: list[int],
    streams: list[UUID],
    versions: list[int],
    seals: list[bytes | None],
    now: dict[tuple[str, str], Doc | None],
) -> int:
    """The last event whose saved state can stand for decoding and projecting every event
    up to it (-1: none; see the module). `now`: the directory's documents it was projected
    with, as they stand now (`_directory_now`)."""
    if saved is None or not saved.checkpoints:
        return -1
    reach = min(len(positions), len(saved.seals))
    same = (
        reach
        if _all_same(reach, saved, positions, streams, versions, seals)
        else next(
            (
                i
                for i in range(reach)
                if seals[i] is None
                or seals[i] != saved.seals[i]
                or positions[i] != saved.positions[i]
                or versions[i] != saved.versions[i]
                or streams[i] != saved.streams[i]
            ),
            reach,
        )
    )
    kept = before(same)
    while kept >= 0 and kept not in saved.checkpoints:
        kept -= STEP
    if kept < 0:
        return -1
    return kept if now == saved.directory else -1
