"""Blocks of a record's streams proved, read now, to be byte for byte what a whole check
in this process read and found sound, by one SHA-256 a block: their seals and Merkle
leaves are not recomputed one event at a time (issue 12: a cold page as of an instant,
service/records/instant_page.py).

Why it keeps the promise. A stream's seal check is a function of its rows alone
(position, version, topic, bytes, in version order); what a page makes of its Merkle
leaves is a function of those rows and of the leaves the log holds for it up to the
log's horizon. A block (`BLOCK` streams, in the order the record first names them) is
kept `Sound` when, in the whole check, every stream in it verified and every leaf of its
streams sat on its own stream's row at that position and version with that row's very
hash: a fact about the block's bytes alone. A page that reads the same streams in the
same order, and whose rows and leaves digest (`digest`) to the same SHA-256, has the same
bytes (a collision is what SHA-256 rules out), so the same verdict: its streams' checks
are the saved ones and none of its leaves is suspect. Anything altered, removed, moved
or added in a block (a row, a leaf, a stream's place) changes its digest, and that block
is checked event by event as before, which words the problem.

Only a check made in this process from rows it read is kept so (`checked_pages.check`):
a saved state read back from the database (service/records/saved_states.py) has none,
since whoever could alter an event there could write the digest to fit.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from service.adapters.sealing import StreamCheck

BLOCK = 100
"""Streams a block: a page checks at most this many streams past its last full block (and
any block that differs) event by event; a record of 10,000 keeps ~100 digests."""

Row = tuple[int, Any, int, str, bytes]
"""(position, stream id, version, topic, stored bytes): event_rows.EventRow."""
Leaf = tuple[str, int, int, str]
"""(stream id in hex, version, position, leaf hash in hex): MerkleLog.stream_leaf_rows."""

_FORMAT = b"LW-sound-block-2\x00"
_MARSHAL = 2  # no back-references: see `digest`
_POSITION = itemgetter(2)
_FIRST = itemgetter(0)


@dataclass(frozen=True)
class Sound:
    """A block found sound by a whole check: the digest of its rows and leaves, and each
    of its streams' checks (all verified), in order."""

    digest: bytes
    checks: tuple[StreamCheck, ...]


def digest(streams: Sequence[Sequence[Row]], leaves: Sequence[Leaf]) -> bytes:
    """One SHA-256 over a block's rows (each stream's, in order) and its leaves (by
    position): every column the checks read, framed by `marshal` at its version 2 and
    hashed, both in C. Version 2 writes no back-references (3 and later do, by object
    identity), so equal values are equal bytes however they were read, and `marshal.loads`
    gives the values back: two blocks with the same bytes have the same rows and leaves.
    Framing the columns in Python was ~110 µs a block, SHA-256 itself ~20 (docs/
    performance.md, asof9, asof10). The digests are this process's alone: none is saved."""
    rows = list(chain.from_iterable(streams))
    columns: tuple[Any, ...] = ()
    if rows:
        positions, _, versions, topics, states = zip(*rows, strict=True)
        columns = (positions, versions, topics, states)
    framed = marshal.dumps(
        (list(map(len, streams)), columns, sorted(leaves, key=_POSITION)), _MARSHAL
    )
    hashed = hashlib.sha256(_FORMAT)
    hashed.update(framed)
    return hashed.digest()


def by_block(hexes: Sequence[str], leaves: Sequence[Leaf], horizon: int) -> list[list[Leaf]]:
    """The leaves up to `horizon` (later ones may be events saved while the record was
    read: no check looks at them) by the block of their stream (`hexes`, in order)."""
    index = {stream: i // BLOCK for i, stream in enumerate(hexes)}
    blocks: list[list[Leaf]] = [[] for _ in range(-(-len(hexes) // BLOCK))]
    for leaf in leaves:
        number = index.get(leaf[0])
        if number is not None and leaf[2] <= horizon:  # (the log is asked for these alone)
            blocks[number].append(leaf)
    return blocks


def sound(
    streams: Sequence[Sequence[Row]],
    checks: Sequence[StreamCheck],
    blocks: Sequence[Sequence[Leaf]],
    unsound: set[str],
) -> dict[int, Sound]:
    """The whole check's full blocks that are sound (see the module), by block number:
    every stream's check verified, and none of its streams in `unsound` (a leaf not on its
    own row with that row's very hash: row_checks.leaves_logged finds them)."""
    found: dict[int, Sound] = {}
    for number in range(len(streams) // BLOCK):
        start, end = number * BLOCK, (number + 1) * BLOCK
        rows, leaves = streams[start:end], blocks[number]
        made = checks[start:end]
        if all(check.ok for check in made) and not any(leaf[0] in unsound for leaf in leaves):
            found[number] = Sound(digest(rows, leaves), tuple(made))
    return found


def proved(
    keys: Sequence[int],
    streams: Sequence[Sequence[Row]],
    blocks: Sequence[Sequence[Leaf]],
    saved_keys: Sequence[int],
    saved: dict[int, Sound],
) -> tuple[dict[int, StreamCheck], set[int], list[Leaf]]:
    """The streams (by place in `keys`) of the full blocks whose streams, rows and leaves
    read now are the sound ones `saved` was made from, each with its saved check; their
    rows' positions (all sealed); and the leaves of the other blocks, to check one by one."""
    checks: dict[int, StreamCheck] = {}
    positions: set[int] = set()
    rest: list[Leaf] = []
    full = len(streams) // BLOCK
    for number, leaves in enumerate(blocks):
        kept = saved.get(number) if number < full else None
        start, end = number * BLOCK, (number + 1) * BLOCK
        rows = streams[start:end]
        if (
            kept is None
            or keys[start:end] != saved_keys[start:end]
            or digest(rows, leaves) != kept.digest
        ):
            rest += leaves
            continue
        checks.update(zip(range(start, end), kept.checks, strict=True))
        positions.update(map(_FIRST, chain.from_iterable(rows)))
    return checks, positions, rest
