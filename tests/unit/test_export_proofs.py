"""An export's inclusion proofs, made again and again as the log grows: the tree under each
signed head is extended from the last export's (service/records/proofs.py), and every proof
still leads to the head's root."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.adapters.merkle_leaf_data import notification_leaf
from service.adapters.merkle_tree import Levels, ProofError, leaf_hash, verify_inclusion
from service.adapters.signing import SignedHead
from service.records.proofs import _Tree, export_proofs
from tests.unit.test_record_tampering import KEY, a_signed_store, alter

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def proven(exported: dict[str, Any]) -> list[int]:
    head = SignedHead.from_json(exported["head"])
    for entry in exported["leaves"]:
        verify_inclusion(
            leaf_hash(base64.b64decode(entry["data"])),
            entry["leaf_index"],
            head.size,
            [bytes.fromhex(h) for h in entry["proof"]],
            head.root,
        )
    return [int(entry["position"]) for entry in exported["leaves"]]


def test_each_export_as_the_log_grows_proves_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    with a_signed_store([3, 2]) as log:
        assert proven(export_proofs(log, [1, 2, 3, 4, 5], key=KEY, now=NOW)) == [1, 2, 3, 4, 5]

        def no_rebuild(size: int) -> Any:  # pragma: no cover - fails the test when called
            raise AssertionError(f"every leaf read again for a tree of {size}")

        monkeypatch.setattr(log, "levels", no_rebuild)
        for n in range(1, 12):
            log.recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([n]))])
            later = NOW.replace(minute=n)
            assert proven(export_proofs(log, [1, 5 + n], key=KEY, now=later)) == [1, 5 + n]


def fresh_proofs(log: Any, positions: list[int]) -> dict[str, Any]:
    """What `export_proofs` gives with nothing kept from an earlier export: the tree built
    from every leaf, each leaf's data encoded and each proof made by `Levels`."""
    head = log.latest_head()
    tree = log.levels(head.size)
    indexes = log.leaf_indexes(sorted(set(positions)))
    leaves = []
    for position, index in sorted(indexes.items()):
        if index >= head.size:
            continue
        (event,) = log.recorder.select_notifications(start=position, limit=1, stop=position)
        data = notification_leaf(event, position)
        proof = [h.hex() for h in tree.inclusion_proof(index)]
        leaves.append(
            {"position": position, "leaf_index": index, "data": b64(data), "proof": proof}
        )
    return {"head": head.to_json(), "leaves": leaves}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    streams=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    growth=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    altered=st.booleans(),
)
def test_kept_proofs_are_the_fresh_ones(
    streams: list[int], growth: list[int], altered: bool
) -> None:
    """Exports one after another as the log grows (each keeps the tree and the leaves' data
    for the next) carry exactly what an export made from nothing carries; a row changed
    in the store is encoded from its new bytes, not taken from what was kept."""
    with a_signed_store(streams) as log:
        for step, more in enumerate(growth):
            log.recorder.insert_events(
                [
                    StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([step, n]))
                    for n in range(more)
                ]
            )
            total = log.recorder.max_notification_id()
            positions = list(range(1, total + 1))
            if altered and step == len(growth) - 1:
                alter(log, 1)
            kept = export_proofs(log, positions, key=KEY, now=NOW.replace(minute=step))
            assert kept == fresh_proofs(log, positions)
            if altered and step == len(growth) - 1:
                with pytest.raises(ProofError, match="leaf 0 is not in the tree"):
                    proven(kept)
            else:
                assert proven(kept) == positions


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 300), grown=st.integers(0, 300))
def test_a_tree_extended_keeps_each_nodes_hex_and_every_path(size: int, grown: int) -> None:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size + grown)]
    small = _Tree.of(Levels.build(leaves[:size]))
    big = _Tree.of(small.levels.extended(leaves[size:]), small)
    assert big.hexes == [[node.hex() for node in level] for level in big.levels.levels]
    every = list(range(size + grown))
    assert big.paths(every) == [[h.hex() for h in big.levels.inclusion_proof(i)] for i in every]


def test_the_printable_records_head_is_the_one_the_proofs_are_under() -> None:
    """The HTML export asks for the head alone: the same signed head as the JSON export's,
    with no proof built (it names the head and leaves the proofs to the JSON export)."""
    with a_signed_store([3, 2]) as log:
        head_only = export_proofs(log, [1, 2, 3, 4, 5], key=KEY, now=NOW, with_paths=False)
        full = export_proofs(log, [1, 2, 3, 4, 5], key=KEY, now=NOW)
    assert head_only == {"head": full["head"], "leaves": []}
    assert proven(full) == [1, 2, 3, 4, 5]
