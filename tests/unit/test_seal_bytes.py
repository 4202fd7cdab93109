"""A seal is `sha256(previous + id + version + topic + NUL + state)`, as every stored event's
seal was made (sealing.py's module docstring): the quicker making of its parts (the id's bytes
from its `int`, the version's and topic's remembered) must give the very same digest, or no
stored chain would recompute."""

from __future__ import annotations

import hashlib
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from service.adapters import sealing


def _reference(
    previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    return hashlib.sha256(
        previous
        + originator_id.bytes
        + version.to_bytes(8, "big")
        + topic.encode()
        + b"\x00"
        + state
    ).digest()


@given(
    previous=st.binary(min_size=32, max_size=32),
    originator_id=st.uuids(),
    version=st.integers(min_value=1, max_value=2**63 - 1),
    topic=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    state=st.binary(max_size=300),
)
def test_a_seal_is_the_sha256_of_its_parts(
    previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes
) -> None:
    expected = _reference(previous, originator_id, version, topic, state)
    assert sealing.seal(previous, originator_id, version, topic, state) == expected
    # Asked again (its version and topic remembered now): the same.
    assert sealing.seal(previous, originator_id, version, topic, state) == expected


def test_one_topic_at_many_versions_each_seals_its_own_version() -> None:
    some = UUID(int=7)
    seals = {sealing.seal(sealing.GENESIS, some, v, "t:T", b"{}") for v in range(1, 300)}
    assert len(seals) == 299
    assert sealing.seal(sealing.GENESIS, some, 2, "t:T", b"{}") == _reference(
        sealing.GENESIS, some, 2, "t:T", b"{}"
    )
