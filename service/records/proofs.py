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

from service.adapters.merkle_log import MerkleLog, leaf_data, notification_leaf
from service.adapters.merkle_tree import Levels, leaf_hash
from service.adapters.signing import SignedHead, SigningKey


def export_proofs(
    log: MerkleLog,
    positions: Sequence[int],
    *,
    key: SigningKey | None = None,
    now: datetime | None = None,
    stored: Mapping[int, Notification] | None = None,
) -> dict[str, Any]:
    """Proofs for the events at these positions (notification ids) under the latest head.

    The log is first caught up and, when this process holds the signing key, a head is
    signed over it, so that an export made seconds after an alarm still proves all of it.
    `stored`: the events as the caller already read them, by position (not read again).
    """
    log.catch_up()
    if key is not None and now is not None:
        log.sign(key, int(now.timestamp() * 1000))
    head = log.latest_head()
    if head is None:
        return {"head": None, "leaves": [], "note": "no signed tree head yet (LW_SIGNING_KEY)"}
    indexes = log.leaf_indexes(sorted(set(positions)))
    covered = {p: i for p, i in indexes.items() if i < head.size}
    levels = levels_under(log, head) if covered else None
    leaves = []
    for position, index in sorted(covered.items()):
        event = (stored or {}).get(position)
        if event is None:
            (event,) = log.recorder.select_notifications(start=position, limit=1, stop=position)
        assert levels is not None
        leaves.append(
            {
                "position": position,
                "leaf_index": index,
                "data": base64.b64encode(notification_leaf(event, position)).decode("ascii"),
                "proof": [h.hex() for h in levels.inclusion_proof(index)],
            }
        )
    return {"head": head.to_json(), "leaves": leaves}


_LEVELS: weakref.WeakKeyDictionary[MerkleLog, Levels] = weakref.WeakKeyDictionary()
_LEVELS_LOCK = threading.Lock()


def levels_under(log: MerkleLog, head: SignedHead) -> Levels:
    """The tree under a signed head, for proofs. The last export's tree (kept per log, only
    once its root was found to be a signed head's) is extended by the leaves appended since,
    so an export reads the log's new leaves, not all of them (a million leaves took ~6 s);
    a tree whose root is not the head's is built again from every stored leaf."""
    with _LEVELS_LOCK:
        known = _LEVELS.get(log)
    levels = None
    if known is not None and known.size <= head.size:
        levels = known.extended([leaf.hash for leaf in log.leaves(known.size, head.size)])
    if levels is None or levels.root() != head.root:
        levels = log.levels(head.size)
    if levels.root() == head.root:
        with _LEVELS_LOCK:
            _LEVELS[log] = levels
    return levels


def _leaf(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    return leaf_hash(leaf_data(position, originator_id, version, topic, state))


def stream_problems(
    merkle: MerkleLog,
    streams: Mapping[UUID, Sequence[StoredEvent]],
    positions: dict[tuple[UUID, int], int],
    horizon: int,
    *,
    leaf_of: Callable[[int, UUID, int, str, bytes], bytes] | None = None,
) -> dict[tuple[UUID, int], str]:
    """Events the log took in that a stream no longer holds (a removed tail, a removed
    stream), or holds changed; keyed by (stream, version). `positions` are the notification
    ids of the events whose bytes can be recomputed into their leaf (the rows shown).

    This reads only these streams' leaves: cheap enough for every timeline. It trusts the
    leaves table; `lonewatch verify` checks that against the signed heads. Leaves past
    `horizon` (the log's last notification id before the streams were read) may be events
    saved while this record was being read: not yet in `streams`, and not missing. `leaf_of`:
    how a leaf hash is computed (service/records/stored_rows.py keeps them by the bytes).
    """
    problems: dict[tuple[UUID, int], str] = {}
    logged = merkle.stream_leaves(list(streams))
    for originator_id, stored in streams.items():
        held = {int(s.originator_version): s for s in stored}
        for version, leaf in sorted(logged.get(originator_id, {}).items()):
            if leaf.notification_id > horizon:
                continue
            event = held.get(version)
            if event is None:
                problems[(originator_id, version)] = (
                    f"version {version} (position {leaf.notification_id}) was recorded and is "
                    "gone from the store: removed"
                )
                continue
            position = positions.get((originator_id, version))
            if position is None:
                continue
            recomputed = (leaf_of or _leaf)(
                position, originator_id, version, event.topic, bytes(event.state)
            )
            if position != leaf.notification_id or recomputed != leaf.hash:
                problems[(originator_id, version)] = (
                    f"version {version} (position {position}) is not what the log recorded: altered"
                )
    return problems
