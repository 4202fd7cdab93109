"""What an export carries to prove its events are in the whole record: each event's bytes
as stored, its inclusion proof, and the signed tree head the proofs lead to.

`lonewatch verify --export FILE` checks them offline (service/records/verification.py).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from service.adapters.merkle_log import MerkleLog, notification_leaf
from service.adapters.signing import SigningKey


def export_proofs(
    log: MerkleLog,
    positions: Sequence[int],
    *,
    key: SigningKey | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Proofs for the events at these positions (notification ids) under the latest head.

    The log is first caught up and, when this process holds the signing key, a head is
    signed over it, so that an export made seconds after an alarm still proves all of it.
    """
    log.catch_up()
    if key is not None and now is not None:
        log.sign(key, int(now.timestamp() * 1000))
    head = log.latest_head()
    if head is None:
        return {"head": None, "leaves": [], "note": "no signed tree head yet (LW_SIGNING_KEY)"}
    indexes = log.leaf_indexes(sorted(set(positions)))
    covered = {p: i for p, i in indexes.items() if i < head.size}
    levels = log.levels(head.size) if covered else None
    leaves = []
    for position, index in sorted(covered.items()):
        (stored,) = log.recorder.select_notifications(start=position, limit=1, stop=position)
        assert levels is not None
        leaves.append(
            {
                "position": position,
                "leaf_index": index,
                "data": base64.b64encode(notification_leaf(stored, position)).decode("ascii"),
                "proof": [h.hex() for h in levels.inclusion_proof(index)],
            }
        )
    return {"head": head.to_json(), "leaves": leaves}
