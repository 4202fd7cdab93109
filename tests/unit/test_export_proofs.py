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

from service.adapters.merkle_tree import leaf_hash, verify_inclusion
from service.adapters.signing import SignedHead
from service.records.proofs import export_proofs
from tests.unit.test_record_tampering import KEY, a_signed_store

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
