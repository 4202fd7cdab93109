"""What the Merkle log says about a record being read: whether its streams still hold
every event the log took in (`stream_problems`, for every replay and timeline), and what
an export carries to prove its events are in the whole record (`export_proofs`: each
event's bytes as stored, its inclusion proof, and the signed tree head they lead to;
`lonewatch verify --export FILE` checks them offline, service/records/verification.py).
"""

from __future__ import annotations

import base64
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from service.adapters.merkle_leaf_data import LeafFacts, leaf_data
from service.adapters.merkle_log import MerkleLog, StreamLeaf
from service.adapters.merkle_tree import Levels, leaf_hash
from service.adapters.signing import SignedHead, SigningKey
from service.records.bounded import let_go_oldest
from service.records.stream_numbers import hexes as hexes_of


def export_proofs(
    log: MerkleLog,
    positions: Sequence[int],
    *,
    key: SigningKey | None = None,
    now: datetime | None = None,
    stored: Mapping[int, Notification] | None = None,
    with_paths: bool = True,
) -> dict[str, Any]:
    """Proofs for the events at these positions (notification ids) under the latest head.

    The log is first caught up and, when this process holds the signing key, a head is
    signed over it, so that an export made seconds after an alarm still proves all of it.
    `stored`: the events as the caller already read them, by position (not read again).
    `with_paths=False`: the signed head alone (no leaves), for the printable record, which names
    the head and leaves each event's proof to the JSON export (a 10,000-event record's
    proofs cost ~40 ms to build and were thrown away).
    """
    log.catch_up()
    if key is not None and now is not None:
        log.sign(key, int(now.timestamp() * 1000))
    head = log.latest_head()
    if head is None:
        return {"head": None, "leaves": [], "note": "no signed tree head yet (LW_SIGNING_KEY)"}
    if not with_paths:
        return {"head": head.to_json(), "leaves": []}
    indexes = log.leaf_indexes(sorted(set(positions)))
    covered = sorted((p, i) for p, i in indexes.items() if i < head.size)
    leaves = []
    if covered:
        tree = _tree_under(log, head)
        data = _leaf_data_of(log)
        paths = tree.paths([index for _, index in covered])
        for (position, index), path in zip(covered, paths, strict=True):
            event = (stored or {}).get(position)
            if event is None:
                (event,) = log.recorder.select_notifications(start=position, limit=1, stop=position)
            leaves.append(
                {
                    "position": position,
                    "leaf_index": index,
                    "data": data.encoded(event, position),
                    "proof": path,
                }
            )
    return {"head": head.to_json(), "leaves": leaves}


class _Tree:
    """A tree under a signed head with each node's hex kept beside it: an export prints
    every event's proof as hex, and the nodes of one tree are shared by all its proofs
    (10,000 proofs of ~14 nodes each are ~140,000 `.hex()` calls made once per node
    instead, and kept for the next export's tree, which extends this one)."""

    def __init__(self, levels: Levels, hexes: list[list[str]]) -> None:
        self.levels, self.hexes = levels, hexes

    @classmethod
    def of(cls, levels: Levels, known: _Tree | None = None) -> _Tree:
        """`levels` with their hex; `known`: a smaller tree `levels` extends (its nodes that
        `Levels.extended` keeps are the same nodes, so their hex is kept too)."""
        if known is None or known.levels.size > levels.size:
            return cls(levels, [[node.hex() for node in level] for level in levels.levels])
        hexes = []
        unchanged = known.levels.size
        for height, level in enumerate(levels.levels):
            old = known.hexes[height] if height < len(known.hexes) else []
            keep = min(unchanged, len(old))
            hexes.append(old[:keep] + [node.hex() for node in level[keep:]])
            unchanged = keep // 2
        return cls(levels, hexes)

    def paths(self, indexes: Sequence[int]) -> list[list[str]]:
        """PATH(index, D[n]) of the whole tree for each of `indexes`, in hex: at each level
        the node's sibling, where it has one (as `Levels.inclusion_proof`). Made a level at
        a time for all the leaves: only a node at the right edge of a level of odd width
        lacks one, so only leaves at or past `edge` can have a shorter path."""
        columns: list[list[str | None]] = []
        edge = self.levels.size
        for height, level in enumerate(self.hexes[:-1]):
            width = len(level)
            if width % 2:
                edge = min(edge, (width - 1) << height)
                columns.append(
                    [level[s] if (s := (i >> height) ^ 1) < width else None for i in indexes]
                )
            else:
                columns.append([level[(i >> height) ^ 1] for i in indexes])
        return (
            [
                list(row) if index < edge else [h for h in row if h is not None]  # type: ignore[misc]
                for index, row in zip(indexes, zip(*columns, strict=True), strict=True)
            ]
            if columns
            else [[] for _ in indexes]
        )


_LEVELS: weakref.WeakKeyDictionary[MerkleLog, _Tree] = weakref.WeakKeyDictionary()
_LEVELS_LOCK = threading.Lock()


def levels_under(log: MerkleLog, head: SignedHead) -> Levels:
    """The tree under a signed head, for proofs (see `_tree_under`)."""
    return _tree_under(log, head).levels


def _tree_under(log: MerkleLog, head: SignedHead) -> _Tree:
    """The tree under a signed head, for proofs. The last export's tree (kept per log, only
    once its root was found to be a signed head's) is extended by the leaves appended since,
    so an export reads the log's new leaves, not all of them (a million leaves took ~6 s);
    a tree whose root is not the head's is built again from every stored leaf."""
    with _LEVELS_LOCK:
        known = _LEVELS.get(log)
    levels = None
    if known is not None and known.levels.size == head.size:
        levels = known.levels
    elif known is not None and known.levels.size < head.size:
        new = [leaf.hash for leaf in log.leaves(known.levels.size, head.size)]
        levels = known.levels.extended(new)
    if levels is None or levels.root() != head.root:
        levels, known = log.levels(head.size), None
    tree = known if known is not None and known.levels is levels else _Tree.of(levels, known)
    if levels.root() == head.root:
        with _LEVELS_LOCK:
            _LEVELS[log] = tree
    return tree


LEAF_DATA_KEPT = 20_000
"""Events' leaf data kept per log (the oldest go first): two records of 10,000 events."""


class _LeafData:
    """Each event's leaf data as an export carries it (base64), kept by what goes into it:
    the position and the event's stream, version, topic and bytes as stored. A row read
    again with the same bytes is not encoded again; a changed row is a new key."""

    def __init__(self) -> None:
        self._kept: dict[tuple[int, int, int, str, bytes], str] = {}
        self._lock = threading.Lock()

    def encoded(self, event: Notification, position: int) -> str:
        originator = event.originator_id
        uuid = originator if isinstance(originator, UUID) else UUID(str(originator))
        version, topic, state = int(event.originator_version), event.topic, bytes(event.state)
        key = (position, uuid.int, version, topic, state)
        found = self._kept.get(key)
        if found is None:
            data = leaf_data(position, uuid, version, topic, state)
            found = base64.b64encode(data).decode("ascii")
            with self._lock:
                self._kept[key] = found
                let_go_oldest(self._kept, LEAF_DATA_KEPT)
        return found


_LEAF_DATA: weakref.WeakKeyDictionary[MerkleLog, _LeafData] = weakref.WeakKeyDictionary()


def _leaf_data_of(log: MerkleLog) -> _LeafData:
    with _LEVELS_LOCK:
        found = _LEAF_DATA.get(log)
        if found is None:
            found = _LEAF_DATA[log] = _LeafData()
        return found


def _leaf(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    return leaf_hash(leaf_data(position, originator_id, version, topic, state))


def stream_problems(
    merkle: MerkleLog,
    streams: Mapping[Any, Sequence[StoredEvent]],
    positions: Mapping[tuple[Any, int], int],
    horizon: int,
    *,
    leaf_of: Callable[[int, UUID, int, str, bytes], bytes] | None = None,
    leaves_of: Callable[[Sequence[LeafFacts]], list[bytes]] | None = None,
    by_number: bool = False,
) -> dict[tuple[Any, int], str]:
    """Events the log took in that a stream no longer holds (a removed tail, a removed
    stream), or holds changed; keyed by (stream, version). `positions` are the notification
    ids of the events whose bytes can be recomputed into their leaf (the rows shown).

    This reads only these streams' leaves: cheap enough for every timeline. It trusts the
    leaves table; `lonewatch verify` checks that against the signed heads. Leaves past
    `horizon` (the log's last notification id before the streams were read) may be events
    saved while this record was being read: not yet in `streams`, and not missing. `leaf_of`:
    how a leaf hash is computed (service/records/stored_rows.py keeps them by the bytes);
    `leaves_of`, if given, computes the first pass's all at once (`StoredRows.leaves`).
    `by_number`: `streams`, `positions` and the answer are keyed by the streams' ids'
    numbers (`UUID.int`, replay.py's `IndexedStreams`), not by `UUID`s; each event's own
    row then gives the `UUID` its leaf is made with (docs/performance.md, ids12).

    The leaves are first compared as the driver's rows, every event keyed by numbers (its
    stream's int and its version: hashed in C, where a `UUID` key is hashed by a Python
    call, and no `StreamLeaf` nor dictionary a stream made): only a stream whose leaves do
    not all match is worded, by `_worded`, over the whole stream (a 10,000-event record's
    check took ~40 ms kept, ~19 of them this pass as `_worded` makes it; docs/performance.md,
    `export6`)."""
    leaf_hash_of = leaf_of or _leaf
    ids: dict[int, UUID] = {}
    if by_number:
        rows = merkle.stream_leaf_rows([], hexes=hexes_of(streams))
        held = {(u, int(s.originator_version)): s for u, stored in streams.items() for s in stored}
        shown = positions
    else:
        rows = merkle.stream_leaf_rows(list(streams))
        ids = {u.int: u for u in streams}
        held = {
            (u.int, int(s.originator_version)): s for u, stored in streams.items() for s in stored
        }
        shown = {(u.int, version): position for (u, version), position in positions.items()}
    suspect: set[int] = set()
    facts: list[LeafFacts] = []
    compared: list[tuple[int, str]] = []
    for stream_hex, version, logged_at, leaf in rows:
        if logged_at > horizon:
            continue  # saved while the record was read: not missing
        number = int(stream_hex, 16)
        key = (number, version)
        event = held.get(key)
        if event is None:
            suspect.add(number)  # gone from the store: `_worded` says so
            continue
        position = shown.get(key)
        if position is None:
            continue
        if position != logged_at:
            suspect.add(number)
            continue
        # By number, the row's own `UUID` (a row not of that stream makes a leaf that does
        # not match, and `_worded` words it by the stream's own id).
        originator_id: UUID = event.originator_id if by_number else ids[number]  # type: ignore[assignment]
        facts.append((position, originator_id, version, event.topic, bytes(event.state)))
        compared.append((number, leaf))
    made = leaves_of(facts) if leaves_of is not None else [leaf_hash_of(*f) for f in facts]
    for (number, leaf), found in zip(compared, made, strict=True):
        if found != bytes.fromhex(leaf):
            suspect.add(number)
    if not suspect:
        return {}
    logged: dict[int, dict[int, StreamLeaf]] = {}
    for stream_hex, version, logged_at, leaf in rows:
        number = int(stream_hex, 16)
        if number in suspect:
            logged.setdefault(number, {})[int(version)] = StreamLeaf(
                int(logged_at), bytes.fromhex(leaf)
            )
    if by_number:  # the few streams worded by their `UUID`s, the answer keyed back by number
        named = {n: UUID(int=n) for n in streams if n in suspect}
        worded = _worded(
            {named[n]: streams[n] for n in named},
            logged,
            {(named[n], v): p for (n, v), p in positions.items() if n in named},
            horizon,
            leaf_hash_of,
        )
        return {(u.int, version): words for (u, version), words in worded.items()}
    return _worded(
        {u: stored for u, stored in streams.items() if u.int in suspect},
        logged,
        positions,
        horizon,
        leaf_hash_of,
    )


def _worded(
    streams: Mapping[UUID, Sequence[StoredEvent]],
    logged: dict[int, dict[int, StreamLeaf]],
    positions: Mapping[tuple[Any, int], int],
    horizon: int,
    leaf_hash_of: Callable[[int, UUID, int, str, bytes], bytes],
) -> dict[tuple[UUID, int], str]:
    """`stream_problems` of these streams, each stream's leaves (`logged`, by its id's int
    and version) compared with what it holds, in stream and version order."""
    problems: dict[tuple[UUID, int], str] = {}
    for originator_id, stored in streams.items():
        leaves = logged.get(originator_id.int)
        if not leaves:
            continue
        held = {int(s.originator_version): s for s in stored}
        for version in sorted(leaves):
            leaf = leaves[version]
            logged_at = leaf.notification_id
            if logged_at > horizon:
                continue
            event = held.get(version)
            if event is None:
                problems[(originator_id, version)] = (
                    f"version {version} (position {logged_at}) was recorded and is "
                    "gone from the store: removed"
                )
                continue
            position = positions.get((originator_id, version))
            if position is None:
                continue
            if (
                position != logged_at
                or leaf_hash_of(position, originator_id, version, event.topic, bytes(event.state))
                != leaf.hash
            ):
                problems[(originator_id, version)] = (
                    f"version {version} (position {position}) is not what the log recorded: altered"
                )
    return problems
