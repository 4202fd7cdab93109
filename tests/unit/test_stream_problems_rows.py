"""`stream_problems` (service/records/proofs.py) compares the leaves as rows keyed by
numbers and words only the streams whose leaves do not all match: what it says must be
what the whole-stream wording (`_worded`, over every stream) says, in the same order, for
sound, altered, moved, shortened and removed streams (docs/performance.md, export6)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from service.adapters.merkle_leaf_data import leaf_data
from service.adapters.merkle_log import StreamLeaf
from service.adapters.merkle_tree import leaf_hash
from service.records.proofs import _leaf, _worded, stream_problems


class _Log:
    """The leaves table of a Merkle log: (stream hex, version, position, leaf hash hex)."""

    def __init__(self, rows: list[tuple[str, int, int, str]]) -> None:
        self.rows = rows

    def stream_leaf_rows(
        self, originator_ids: list[UUID], *, hexes: list[str] | None = None
    ) -> list[tuple[str, int, int, str]]:
        wanted = {u.hex for u in originator_ids} | set(hexes or ())
        return [row for row in self.rows if row[0] in wanted]


def _world(kind: str) -> tuple[dict[UUID, list[StoredEvent]], dict[tuple[UUID, int], int], _Log]:
    """Three streams of two events each, logged at positions 1-6, all shown; then `kind`."""
    ids = [uuid4() for _ in range(3)]
    streams: dict[UUID, list[StoredEvent]] = {}
    positions: dict[tuple[UUID, int], int] = {}
    rows = []
    position = 0
    for u in ids:
        streams[u] = []
        for version in (1, 2):
            position += 1
            state = f"{u} {version}".encode()
            streams[u].append(StoredEvent(u, version, "topic", state))
            positions[(u, version)] = position
            hashed = leaf_hash(leaf_data(position, u, version, "topic", state))
            rows.append((u.hex, version, position, hashed.hex()))
    middle = ids[1]
    if kind == "altered":
        e = streams[middle][0]
        streams[middle][0] = StoredEvent(middle, 1, "topic", e.state + b"!")
    elif kind == "tail removed":
        streams[middle] = streams[middle][:1]
        del positions[(middle, 2)]
    elif kind == "stream removed":
        streams[middle] = []
        del positions[(middle, 1)], positions[(middle, 2)]
    elif kind == "moved":
        positions[(middle, 2)] = 99
    elif kind == "not shown":
        del positions[(middle, 1)]
    elif kind == "logged after the horizon":
        rows.append((middle.hex, 3, 50, "00" * 32))
    return streams, positions, _Log(rows)


KINDS = [
    "sound",
    "altered",
    "tail removed",
    "stream removed",
    "moved",
    "not shown",
    "logged after the horizon",
]
"""Every world `_world` makes."""


@pytest.mark.parametrize("kind", KINDS)
def test_stream_problems_says_what_the_whole_streams_wording_says(kind: str) -> None:
    streams, positions, log = _world(kind)
    logged: dict[int, dict[int, StreamLeaf]] = {}
    for stream_hex, version, at, leaf in log.rows:
        logged.setdefault(int(stream_hex, 16), {})[version] = StreamLeaf(at, bytes.fromhex(leaf))
    whole = _worded(streams, logged, positions, 6, _leaf)
    assert stream_problems(cast("Any", log), streams, positions, 6) == whole
    assert list(stream_problems(cast("Any", log), streams, positions, 6)) == list(whole)
    assert bool(whole) is (kind in {"altered", "tail removed", "stream removed", "moved"})


@pytest.mark.parametrize("kind", KINDS)
def test_stream_problems_by_number_says_what_it_says_by_id(kind: str) -> None:
    """replay.py keys a record's streams by their ids' numbers (`UUID.int`, ids12): the
    same problems, in the same order, keyed by (number, version)."""
    streams, positions, log = _world(kind)
    by_id = stream_problems(cast("Any", log), streams, positions, 6)
    by_number = stream_problems(
        cast("Any", log),
        {u.int: stored for u, stored in streams.items()},
        {(u.int, version): p for (u, version), p in positions.items()},
        6,
        by_number=True,
    )
    assert list(by_number.items()) == [((u.int, v), words) for (u, v), words in by_id.items()]
    assert sorted(by_number) == [(u.int, v) for u, v in sorted(by_id)]
