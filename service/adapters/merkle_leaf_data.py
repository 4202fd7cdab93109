"""What a Merkle log's leaf holds, and its hash.

A leaf is `leaf_data(...)`: the notification id, stream id, version and topic of the
event and its state exactly as stored (after any encryption), so a leaf vouches for the
bytes in the database and its place in the whole record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

LEAF_FORMAT = b"LW1\x00"
_LEAF_PREFIX = b"\x00" + LEAF_FORMAT
"""RFC 6962's leaf marker, then the leaf's format (merkle_tree.leaf_hash)."""


def leaf_data(
    notification_id: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    """The bytes a leaf hashes: where the event sits in the record, and the event as stored."""
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            LEAF_FORMAT,
            notification_id.to_bytes(8, "big"),
            originator_id.bytes,
            version.to_bytes(8, "big"),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            state,
        )
    )


class LeafFields(NamedTuple):
    notification_id: int
    originator_id: UUID
    version: int
    topic: str


def read_leaf_data(data: bytes) -> LeafFields:
    """What a leaf says about its event (an export's verifier matches it to the row shown)."""
    if not data.startswith(LEAF_FORMAT) or len(data) < 40:
        raise ValueError("not a Lonewatch leaf")
    at = len(LEAF_FORMAT)
    notification_id = int.from_bytes(data[at : at + 8], "big")
    originator_id = UUID(bytes=data[at + 8 : at + 24])
    version = int.from_bytes(data[at + 24 : at + 32], "big")
    topic_length = int.from_bytes(data[at + 32 : at + 36], "big")
    topic = data[at + 36 : at + 36 + topic_length].decode("utf-8")
    return LeafFields(notification_id, originator_id, version, topic)


def notification_leaf(notification: Notification | StoredEvent, notification_id: int) -> bytes:
    given = notification.originator_id
    state = notification.state
    return leaf_data(
        notification_id,
        given if type(given) is UUID else UUID(str(given)),
        int(notification.originator_version),
        notification.topic,
        state if type(state) is bytes else bytes(state),
    )


def notification_leaf_hash(notification: Notification, notification_id: int) -> bytes:
    """`leaf_hash(notification_leaf(...))` in one pass: the state, the largest part, is not
    copied twice (into the leaf's bytes, then behind the leaf prefix) for every event."""
    return handed_leaves([notification], notification_id)[0][0]


HandedLeaf = tuple[bytes, str]
"""A leaf's hash and its event's stream id in hex (the leaf row's two derived columns)."""


def handed_leaves(
    notifications: Sequence[Notification], first_id: int | None = None
) -> list[HandedLeaf]:
    """`notification_leaf_hash` of each event, and its stream id in hex, in one pass: the
    Merkle log's round makes one for every event recorded (two UUID properties and a topic's
    encoding each, once per heartbeat, were a fifth of the round). The ids are the events'
    own unless `first_id` numbers them from there. The bytes hashed are `leaf_data`'s,
    byte for byte (tests/unit/test_merkle_leaf_hash.py)."""
    sha256, join, prefix = hashlib.sha256, b"".join, _LEAF_PREFIX
    topics: dict[str, bytes] = {}
    leaves: list[HandedLeaf] = []
    for at, notification in enumerate(notifications):
        given = notification.originator_id
        stream = (given if type(given) is UUID else UUID(str(given))).int.to_bytes(16, "big")
        topic = notification.topic
        sized_topic = topics.get(topic)
        if sized_topic is None:
            encoded = topic.encode("utf-8")
            sized_topic = topics[topic] = len(encoded).to_bytes(4, "big") + encoded
        position = notification.id if first_id is None else first_id + at
        state = notification.state
        digest = sha256(
            join(
                (
                    prefix,
                    position.to_bytes(8, "big"),
                    stream,
                    int(notification.originator_version).to_bytes(8, "big"),
                    sized_topic,
                    state if type(state) is bytes else bytes(state),
                )
            )
        ).digest()
        leaves.append((digest, stream.hex()))
    return leaves


LeafFacts = tuple[int, UUID, int, str, bytes]
"""What `leaf_data` takes: position, stream id, version, topic, the state as stored."""


def leaf_hashes(facts: Sequence[LeafFacts]) -> list[bytes]:
    """`leaf_hash(leaf_data(*f))` of each, in one pass (a record's check compares its
    10,000 events' leaves: one `leaf_data`, `UUID.bytes` property and prefixed copy of
    the state each, through a call a leaf, were ~4 µs an event; docs/performance.md,
    `export11`). The bytes hashed are `leaf_data`'s, byte for byte
    (tests/unit/test_merkle_leaf_hash.py)."""
    sha256, join, prefix = hashlib.sha256, b"".join, _LEAF_PREFIX
    topics: dict[str, bytes] = {}
    hashes: list[bytes] = []
    for position, originator_id, version, topic, state in facts:
        sized_topic = topics.get(topic)
        if sized_topic is None:
            encoded = topic.encode("utf-8")
            sized_topic = topics[topic] = len(encoded).to_bytes(4, "big") + encoded
        hashes.append(
            sha256(
                join(
                    (
                        prefix,
                        position.to_bytes(8, "big"),
                        originator_id.int.to_bytes(16, "big"),
                        version.to_bytes(8, "big"),
                        sized_topic,
                        state,
                    )
                )
            ).digest()
        )
    return hashes
