"""Each event's seal and Merkle leaf checked from the rows a cold page as of an instant read
(service/records/instant_page.py), one event at a time: the streams and leaves of the
blocks that sound_blocks.py did not prove unchanged since the last whole check. What they
find is what `check_stream` and `stream_problems` find, which word any problem."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from service.adapters.event_rows import EventRow
from service.adapters.event_streams import StoredRow
from service.adapters.merkle_leaf_data import leaf_data
from service.adapters.merkle_log import MerkleLog
from service.adapters.merkle_tree import leaf_hash
from service.adapters.sealing import (
    StreamCheck,
    check_stream,
    sound_seals,
    verified_stream,
)
from service.records.proofs import stream_problems
from service.records.sound_blocks import Leaf


def stream_sealed(
    originator_id: UUID, stream: list[EventRow], sealed: set[int], then: StreamCheck | None
) -> StreamCheck:
    """`check_stream` of a stream read as rows, adding the positions whose seal recomputes
    to `sealed`. A stream that verifies (nearly always) is checked without the per-event
    objects the general case makes to word a problem, and is `then` (the saved check of
    it) when that verified the same number of events to the same last seal: the same
    chain, so the same check, not made again."""
    seals = sound_seals(originator_id, map(_VERSION_TOPIC_STATE, stream))
    if seals is None:
        named = [StoredRow._make(row) for row in stream]
        general = check_stream(originator_id, cast("Sequence[StoredEvent]", named))
        for row, event in zip(stream, general.events, strict=True):
            if event.ok:
                sealed.add(row[0])
        return general
    sealed.update(map(_POSITION, stream))
    if (
        then is not None
        and len(then.events) == len(stream)
        and then.ok
        and then.head == (seals[-1].hex() if seals else None)
    ):
        return then
    return verified_stream(str(originator_id), seals)


_VERSION_TOPIC_STATE = itemgetter(2, 3, 4)
"""An `EventRow`'s (version, topic, stored bytes), as `sound_seals` reads them."""
_POSITION = itemgetter(0)


def leaves_logged(
    merkle: MerkleLog,
    stored: list[tuple[UUID, list[EventRow]]],
    checking: list[tuple[UUID, list[EventRow]]],
    rows: list[tuple[int, EventRow]],
    horizon: int,
    leaves: list[Leaf],
    *,
    leaf_of: Callable[[int, Any, int, str, bytes], bytes] | None = None,
    unsound: set[str] | None = None,
) -> dict[tuple[UUID, int], tuple[str, int | None]]:
    """What the Merkle log says of the streams `checking` (of `stored`, all read), as
    `stream_problems` words it (and the position of each event it names), from their
    `leaves` (up to `horizon`) compared with the rows already read; only a stream whose
    leaves do not all match is worded by `stream_problems`. `leaf_of`: how a leaf hash is
    made (stored_rows.py keeps them by the bytes). `unsound`: given, gets every stream with
    a leaf not on its own row with that row's very hash, whether or not the row is the
    record's (what sound_blocks.py asks of a block)."""
    # Keyed by position, an int: the rows' own (a leaf names where its event was stored),
    # not by (stream, version), a tuple made per event for the collector to walk. Only the
    # streams checked: a leaf naming another stream's row is suspect either way.
    held = {row[0]: row for _, stream in checking for row in stream}
    shown = {row[0]: position for position, row in rows if row[0] in held}
    suspect: set[str] = set()
    every = unsound is not None
    for stream, version, logged_at, leaf in leaves:
        row = held.get(logged_at)
        if row is None or row[2] != version or row[1].int != int(stream, 16):  # type: ignore[union-attr]
            # Not this record's event at that place (another of its stream's, one moved or
            # removed): `stream_problems` says which, over the whole stream.
            suspect.add(stream)
            if unsound is not None:
                unsound.add(stream)
            continue
        position = shown.get(logged_at)
        if position is None and not every:
            continue  # not an event of this record: not recomputed, as the whole check
        made = (
            leaf_of(logged_at, row[1], version, row[3], row[4])
            if leaf_of is not None
            else leaf_hash(leaf_data(logged_at, row[1], version, row[3], row[4]))  # type: ignore[arg-type]
        )
        same = made.hex() == leaf
        if unsound is not None and not same:
            unsound.add(stream)
        if position is not None and (position != logged_at or not same):
            suspect.add(stream)
    if not suspect:
        return {}
    streams = {
        u: [StoredRow._make(row) for row in stream] for u, stream in stored if u.hex in suspect
    }
    at = {(cast("UUID", row[1]), row[2]): p for p, row in rows}
    found = stream_problems(merkle, cast("Any", streams), at, horizon)
    return {key: (words, at.get(key)) for key, words in found.items()}
