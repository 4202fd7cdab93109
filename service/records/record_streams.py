"""A record's events read from its streams: the subject's streams and versions from the
views' index, and each stream's stored rows matched to them by place and decoded, with what
the integrity verdict needs of each shown event (its seal, its place) made in the same pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from projections.decoding import RowDecoder
from projections.store import ViewStore
from service.adapters.event_streams import StoredRow, stream_rows_named
from service.adapters.sealing import EventCheck, StreamCheck
from service.application.lonewatch import Lonewatch
from service.records.stored_rows import stored_rows_of
from service.records.stream_numbers import streams_named

K = TypeVar("K", UUID, int)
"""A stream's key: its id, or its id's number (`UUID.int`, `IndexedStreams`)."""


@dataclass
class IndexedStreams:
    """A subject's streams as the views' index names them, in the order each first appears:
    keyed by their ids' numbers (`UUID.int`: an int hashes and compares in C, a `UUID` by
    Python calls, ~60,000 of them through a 10,000-event record's dictionaries), with each
    id's text as `str(UUID)` spells it, which the record's checks name it by and its rows
    are asked for by (docs/performance.md, ids12)."""

    positions: dict[int, dict[int, int]]
    """Each stream's events: version to position."""
    texts: list[str]
    """Each stream's id as text, in the same order."""


def indexed_streams(views: ViewStore, subject: str) -> IndexedStreams:
    """The subject's events by stream (in the order each stream first appears) and version:
    their positions. No `UUID` is made: the index's texts become numbers all at once
    (`streams_named`, in C)."""
    by_text: dict[str, dict[int, int]] = {}
    for entry in views.index(subject):
        versions = by_text.get(entry.originator_id)
        if versions is None:
            versions = by_text[entry.originator_id] = {}
        versions[entry.originator_version] = entry.position
    numbers, texts = streams_named(list(by_text))
    positions = dict(zip(numbers, by_text.values(), strict=True))
    if len(positions) < len(numbers):  # one id spelt two ways: one stream, as a `UUID` key
        texts = list(dict(zip(numbers, texts, strict=True)).values())
    return IndexedStreams(positions, texts)


def read_streams(app: Lonewatch, streams: IndexedStreams) -> dict[int, list[Notification]]:
    """`stream_notifications` of these streams, by number in the index's order, asked for by
    their texts (`stream_rows_named`: no `UUID` made nor hashed for the query), each row the
    driver's tuple named (`StoredRow`: the attribute names of a `Notification`, read the same
    way by the seals, the decoder and the leaves) instead of a frozen `Notification` made
    through its `__init__` (10,000 heartbeats are 10,000 of them, each two objects more for
    the collector's young pass; docs/performance.md, `export7`). A row's id is the driver's
    `UUID`, matched to its stream by its `int` (a slot, read in C)."""
    named: dict[int, list[StoredRow]] = {number: [] for number in streams.positions}
    rows = stream_rows_named(app.recorder, streams.texts)
    for key, row in zip(map(_INT, map(_STREAM, rows)), rows, strict=True):
        named[key].append(StoredRow._make(row))
    return cast("dict[int, list[Notification]]", named)


_STREAM = itemgetter(1)
_INT = attrgetter("int")


def removed_whole(check: StreamCheck) -> bool:
    """A stream the views' index names that holds no row at all: removed whole (a device
    message is a stream of one event, so deleting its row leaves no chain to break). None
    of its events is shown at any instant, but the verdict on any instant must look at it:
    the Merkle log's leaves say it was taken in (`proofs.stream_problems`)."""
    return not check.events


def decoded(
    app: Lonewatch,
    positions_by_stream: dict[UUID, dict[int, int]],
    stored_streams: dict[UUID, list[Notification]],
    as_of: datetime | None,
) -> list[tuple[int, Any]]:
    """(position, event) of the subject's events recorded by `as_of`, in recorded order,
    decoded from the rows already read for their seals (`stored_streams`: every stream of
    `positions_by_stream`, as `stream_notifications` answers them)."""
    return read_in_order(app, positions_by_stream, stored_streams, None, as_of).events


@dataclass
class RecordRead:
    """A record's events as replay.py's `_record` reads them: what `decoded` gives, and by
    the way what the verdict needs of each (made in the one pass over the streams that
    decodes them)."""

    events: list[tuple[int, Any]]
    """(position, event) recorded by `as_of`, in recorded order (as `decoded`)."""
    shown: list[bool]
    """For each stream read, in order: whether any of its events is shown, or it holds none
    (removed whole: the verdict must look at it whatever the instant)."""
    sealed: dict[int, bool]
    """Each shown event's position: whether its seal recomputes from its content."""
    positions: dict[tuple[Any, int], int]
    """Each shown event's (stream, version): its position (for `stream_problems`), the stream
    keyed as `read_in_order` was given it (by number, for replay.py).
    The last three are made only with the streams' checks: `decoded` needs none of them
    (for 10,000 events, kept, they took its pass from ~33 to ~45 ms)."""


def read_in_order(
    app: Lonewatch,
    positions_by_stream: Mapping[K, dict[int, int]],
    stored_streams: Mapping[K, list[Notification]],
    checks: list[StreamCheck] | None,
    as_of: datetime | None,
) -> RecordRead:
    """The subject's events recorded by `as_of` (`decoded`), for streams read in the order of
    `positions_by_stream` (as `stream_notifications` answers them) and checked in that order
    (`checks`, when given: each shown event's own seal is taken from its stream's check, not
    from a dictionary keyed by texts). Each stream and each event is matched by its place,
    not looked up by its id (a UUID is hashed and compared in Python: ~60,000 calls for a
    10,000-event record; replay.py keys them by number, `IndexedStreams`). Decoded with
    `RowDecoder` (the mapper's very events, without its per-object hook) when not kept."""
    decode = RowDecoder(app.mapper)

    def to_domain_event(stored: StoredEvent | StoredRow) -> Any:
        if type(stored) is StoredRow:  # already the row `RowDecoder` reads
            return decode(stored)
        return decode(
            (0, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        )

    # Every event of the subject's streams that the index places: decoded all at once
    # (`StoredRows.events`), then those recorded by `as_of` kept, in the same order.
    picked: list[tuple[int, K, int, int, EventCheck | None]] = []
    picked_rows: list[StoredEvent] = []
    places: list[int] = []
    for place, ((stream, versions), (read_as, stored_events)) in enumerate(
        zip(positions_by_stream.items(), stored_streams.items(), strict=True)
    ):
        if read_as is not stream and read_as != stream:  # not in the order asked: looked up
            stored_events = stored_streams[stream]
            place = list(stored_streams).index(stream)
        places.append(place)
        checked: Sequence[EventCheck | None] = (
            checks[place].events if checks is not None else (None,) * len(stored_events)
        )
        for stored, event_check in zip(stored_events, checked, strict=True):
            version = stored.originator_version
            position = versions.get(version)
            if position is None:
                continue
            picked.append((len(places) - 1, stream, version, position, event_check))
            picked_rows.append(stored)
    found: list[tuple[int, Any]] = []
    sealed: dict[int, bool] = {}
    positions: dict[tuple[Any, int], int] = {}
    any_shown = [False] * len(places)
    for (asked, stream, version, position, event_check), event in zip(
        picked, stored_rows_of(app).events(to_domain_event, picked_rows), strict=True
    ):
        if as_of is None or event.timestamp <= as_of:
            found.append((position, event))
            if event_check is not None:
                sealed[position] = event_check.ok
                positions[(stream, version)] = position
                any_shown[asked] = True
    shown: list[bool] = []
    if checks is not None:
        shown = [
            on or removed_whole(checks[place]) for on, place in zip(any_shown, places, strict=True)
        ]
    found.sort(key=lambda pair: pair[0])
    return RecordRead(found, shown, sealed, positions)
