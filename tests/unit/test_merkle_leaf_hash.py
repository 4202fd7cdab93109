"""The appender hashes a handed-over event's leaf in one pass: it must be the leaf that
`leaf_hash(notification_leaf(...))` makes, or the log would disagree with every verifier."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Notification
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.merkle_leaf_data import (
    handed_leaves,
    leaf_data,
    leaf_hashes,
    notification_leaf,
    notification_leaf_hash,
)
from service.adapters.merkle_tree import leaf_hash


@given(
    position=st.integers(min_value=1, max_value=2**63 - 1),
    originator=st.uuids(),
    as_text=st.booleans(),
    version=st.integers(min_value=1, max_value=2**31 - 1),
    topic=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    state=st.binary(max_size=300),
)
def test_the_one_pass_leaf_hash_is_the_leaf_hash(
    position: int, originator: UUID, as_text: bool, version: int, topic: str, state: bytes
) -> None:
    notification = Notification(
        id=position,
        originator_id=str(originator) if as_text else originator,
        originator_version=version,
        topic=topic,
        state=state,
    )
    assert notification_leaf_hash(notification, position) == leaf_hash(
        notification_leaf(notification, position)
    )


@given(
    originators=st.lists(st.tuples(st.uuids(), st.booleans()), min_size=1, max_size=8),
    topics=st.lists(st.sampled_from(["a:B.Created", "a:B.Changed", "é:C"]), min_size=8),
    first=st.integers(min_value=1, max_value=2**40),
)
def test_a_rounds_leaves_are_each_events_leaf_and_stream(
    originators: list[tuple[UUID, bool]], topics: list[str], first: int
) -> None:
    """A round hashes many events with a topic's bytes made once: each must still be its
    own event's leaf, with the stream id the leaf row names."""
    notifications = [
        Notification(
            id=first + at,
            originator_id=str(originator) if as_text else originator,
            originator_version=at + 1,
            topic=topics[at],
            state=bytes([at]) * at,
        )
        for at, (originator, as_text) in enumerate(originators)
    ]
    leaves = handed_leaves(notifications)
    assert leaves == [
        (leaf_hash(notification_leaf(n, n.id)), UUID(str(n.originator_id)).hex)
        for n in notifications
    ]
    assert handed_leaves(notifications, 7) == [
        (leaf_hash(notification_leaf(n, 7 + at)), UUID(str(n.originator_id)).hex)
        for at, n in enumerate(notifications)
    ]


@given(
    facts=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=2**63 - 1),
            st.uuids(),
            st.integers(min_value=1, max_value=2**31 - 1),
            st.sampled_from(["a:B.Created", "a:B.Changed", "é:C", ""]),
            st.binary(max_size=300),
        ),
        max_size=8,
    )
)
def test_a_records_leaves_hashed_at_once_are_each_events_leaf(
    facts: list[tuple[int, UUID, int, str, bytes]],
) -> None:
    """A record's check hashes its leaves in one pass (`leaf_hashes`, export11): each must
    be the leaf `leaf_hash(leaf_data(...))` makes, and a kept one the same."""
    from service.records.stored_rows import StoredRows

    expected = [leaf_hash(leaf_data(*f)) for f in facts]
    assert leaf_hashes(facts) == expected
    memo = StoredRows()
    assert memo.leaves(facts) == expected
    assert memo.leaves(facts) == expected
    assert [memo.leaf(*f) for f in facts] == expected
