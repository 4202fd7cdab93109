"""Derived ids are the stored identities of every aggregate: the fast derivation must give
exactly what `uuid5` gives, or a repeat would no longer collide with what was stored."""

from __future__ import annotations

from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from service.domain import ids

# What uuid5 can take: any text that encodes to UTF-8 (lone surrogates are refused at the edge).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@given(device=text, message=text)
def test_device_message_id_is_uuid5_of_its_name(device: str, message: str) -> None:
    made = ids.device_message_id(device, message)
    expected = uuid5(ids.NAMESPACE, f"device-message/{device}/{message}")
    assert made == expected
    assert (str(made), made.bytes, made.version, made.variant, hash(made)) == (
        str(expected),
        expected.bytes,
        5,
        expected.variant,
        hash(expected),
    )
    assert made.is_safe == expected.is_safe


@given(kind=text, parts=st.lists(text, max_size=4))
def test_every_derived_id_is_uuid5(kind: str, parts: list[str]) -> None:
    made = ids._id(kind, *parts)
    assert made == uuid5(ids.NAMESPACE, "/".join((kind, *parts)))
    assert UUID(str(made)) == made


def test_a_known_id_is_unchanged() -> None:
    # Stored before the fast derivation: a school's id must still be this one.
    assert ids.school_id("school-1") == uuid5(
        UUID("6f1c2a52-8a47-4d55-9c3e-5b1d0e7a9c10"), "school/school-1"
    )
