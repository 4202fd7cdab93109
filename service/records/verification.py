"""`lonewatch verify`: is the record whole? Checked from the bytes alone, offline.

A store: every stored event is read in notification order and its leaf recomputed; the
leaves must be the ones the log holds, and the tree over them must have the root of every
signed head (so an event altered, removed, added or moved, or a whole stream removed,
shows: the head's signature is made with a key the database does not hold). An earlier
head kept elsewhere (an export, a log line) is checked the same way, and a consistency
proof (RFC 9162) shows the latest head extends it.

An export: its events' leaves lead by their inclusion proofs to the root of the signed
head it carries, and each event shown is one of those leaves.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from service.adapters.merkle_leaf_data import notification_leaf, read_leaf_data
from service.adapters.merkle_log import PAGE, MerkleLog
from service.adapters.merkle_tree import (
    Frontier,
    Levels,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from service.adapters.signing import HeadError, SignedHead

MAX_LISTED = 20
"""Problems listed one by one; after that, a count (one removed event moves every later one)."""


@dataclass
class Verdict:
    events: int = 0
    head: SignedHead | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(text)
        elif len(self.problems) == MAX_LISTED:
            self.problems.append("... and more")

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.ok,
            "events": self.events,
            "head": self.head.to_json() if self.head else None,
            "problems": self.problems,
            "notes": self.notes,
        }


def when(head: SignedHead) -> str:
    return datetime.fromtimestamp(head.timestamp_ms / 1000, UTC).isoformat(timespec="seconds")


def _recompute(recorder: Any) -> list[tuple[int, bytes]]:
    """(position, leaf hash) of every stored event, in notification order."""
    computed: list[tuple[int, bytes]] = []
    start = 1
    while page := recorder.select_notifications(start=start, limit=PAGE):
        computed.extend((int(n.id), leaf_hash(notification_leaf(n, int(n.id)))) for n in page)
        start = int(page[-1].id) + 1
    return computed


def _compare_leaves(verdict: Verdict, computed: list[tuple[int, bytes]], log: MerkleLog) -> int:
    """The events against the log's leaves; returns how many events the log has reached."""
    by_position = dict(computed)
    stored = list(log.leaves())
    last_logged = 0
    for expected_index, leaf in enumerate(stored):
        if leaf.leaf_index != expected_index:
            verdict.problem(f"the log's leaf {expected_index} is missing: the log was edited")
        last_logged = leaf.notification_id
        found = by_position.get(leaf.notification_id)
        if found is None:
            verdict.problem(
                f"the event at position {leaf.notification_id} (leaf {leaf.leaf_index}) is gone: removed"
            )
        elif found != leaf.hash:
            verdict.problem(
                f"the event at position {leaf.notification_id} (leaf {leaf.leaf_index}) does not match "
                "what was recorded: altered"
            )
    logged = {leaf.notification_id for leaf in stored}
    for position, _ in computed:
        if position <= last_logged and position not in logged:
            verdict.problem(f"the event at position {position} was not in the record: added later")
    return sum(1 for position, _ in computed if position <= last_logged)


def _check_heads(
    verdict: Verdict, leaves: list[bytes], heads: Sequence[SignedHead], trusted: list[bytes] | None
) -> None:
    frontier = Frontier()
    for head in sorted(heads, key=lambda h: h.size):
        try:
            head.check(trusted)
        except HeadError as exc:
            verdict.problem(str(exc))
            continue
        if head.size > len(leaves):
            verdict.problem(
                f"the head signed {when(head)} covers {head.size} events; the store holds "
                f"{len(leaves)}: events were removed"
            )
            continue
        while frontier.size < head.size:
            frontier.append(leaves[frontier.size])
        if frontier.root() != head.root:
            verdict.problem(
                f"the record no longer matches the head signed {when(head)} over its first "
                f"{head.size} events: events were altered, removed or reordered"
            )


def verify_store(
    log: MerkleLog,
    *,
    trusted: list[bytes] | None = None,
    since: SignedHead | None = None,
) -> Verdict:
    verdict = Verdict()
    computed = _recompute(log.recorder)
    verdict.events = len(computed)
    reached = _compare_leaves(verdict, computed, log)
    leaves = [digest for _, digest in computed]
    heads = log.heads()
    _check_heads(verdict, leaves, heads, trusted)
    verdict.head = heads[-1] if heads else None
    if verdict.head is None:
        verdict.notes.append("no signed tree head: the record is unsigned (set LW_SIGNING_KEY)")
    elif verdict.ok:
        verdict.notes.append(
            f"the first {verdict.head.size} events are under the head signed {when(verdict.head)} "
            f"by {verdict.head.check(trusted)}"
        )
    pending = len(computed) - (verdict.head.size if verdict.head else 0)
    if pending > 0 and verdict.ok:
        verdict.notes.append(
            f"{pending} later events are not yet under a signed head"
            + (
                f" ({len(computed) - reached} not yet in the log)"
                if reached < len(computed)
                else ""
            )
        )
    if since is not None:
        _check_extends(verdict, leaves, since, trusted)
    return verdict


def _check_extends(
    verdict: Verdict, leaves: list[bytes], since: SignedHead, trusted: list[bytes] | None
) -> None:
    """The earlier head must be a prefix of the record; the proof from it to the latest head
    is the one a third party holding only the two heads would check."""
    try:
        since.check(trusted)
    except HeadError as exc:
        verdict.problem(f"the earlier head: {exc}")
        return
    latest = verdict.head
    if latest is None or latest.size < since.size:
        verdict.problem(
            f"the earlier head (signed {when(since)}) covers {since.size} events, more than the "
            "latest head here: events or heads were removed"
        )
        return
    if latest.size > len(leaves):
        verdict.problem(
            f"the record cannot extend the earlier head signed {when(since)}: it holds "
            f"{len(leaves)} events, fewer than its own latest head covers"
        )
        return
    proof = Levels.build(leaves[: latest.size]).consistency_proof(since.size)
    try:
        verify_consistency(since.size, latest.size, since.root, latest.root, proof)
    except ProofError as exc:
        verdict.problem(
            f"the record is not an extension of the earlier head signed {when(since)}: {exc}"
        )
        return
    verdict.notes.append(
        f"the latest head ({latest.size} events, {when(latest)}) extends the earlier head "
        f"({since.size} events, {when(since)}): consistency proof of {len(proof)} hashes verified"
    )


def verify_export(record: dict[str, Any], *, trusted: list[bytes] | None = None) -> Verdict:
    """An export (`lonewatch replay --format json`, the API's record) checked on its own."""
    verdict = Verdict()
    rows = record.get("events") or []
    verdict.events = len(rows)
    merkle = record.get("merkle") or {}
    if not merkle.get("head"):
        verdict.problem("the export carries no signed tree head: nothing proves it whole")
        return verdict
    try:
        head = SignedHead.from_json(merkle["head"])
        signer = head.check(trusted)
    except HeadError as exc:
        verdict.problem(str(exc))
        return verdict
    verdict.head = head
    shown: dict[int, tuple[UUID, int]] = {}
    for entry in merkle.get("leaves") or []:
        try:
            data = base64.b64decode(entry["data"], validate=True)
            fields = read_leaf_data(data)
            proof = [bytes.fromhex(h) for h in entry["proof"]]
            index = int(entry["leaf_index"])
            if fields.notification_id != int(entry["position"]):
                raise ProofError("its stored bytes name another position")
            verify_inclusion(leaf_hash(data), index, head.size, proof, head.root)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            verdict.problem(f"the event at position {entry.get('position')} is not proven: {exc}")
            continue
        shown[fields.notification_id] = (fields.originator_id, fields.version)
    for row in rows:
        proven = shown.get(int(row["position"]))
        if proven is None:
            verdict.problem(
                f"the event at position {row['position']} ({row.get('event')}) has no inclusion "
                "proof: it is not under the signed head"
            )
        elif proven != (UUID(str(row["aggregate_id"])), int(row["version"])):
            verdict.problem(
                f"the event shown at position {row['position']} is not the one the proof is for"
            )
    if verdict.ok:
        verdict.notes.append(
            f"{len(rows)} events proven in the record of {head.size} events under the head "
            f"signed {when(head)} by {signer}"
        )
    return verdict
