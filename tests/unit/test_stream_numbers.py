"""The streams' numbers a cold page as of an instant keys its streams by are each id's
`UUID(text).int`, however the id is spelled, and an id `UUID` refuses is refused
(service/records/stream_numbers.py reads the index's usual spelling all at once)."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.records.stream_numbers import stream_numbers

SPELLINGS = st.sampled_from(
    [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: "{" + str(u) + "}", lambda u: u.urn]
)


@given(st.lists(st.uuids()))
def test_ids_as_the_index_writes_them(ids: list[UUID]) -> None:
    assert stream_numbers([str(u) for u in ids]) == [u.int for u in ids]


@given(st.lists(st.tuples(st.uuids(), SPELLINGS)))
def test_any_spelling_uuid_reads(ids: list[tuple[UUID, object]]) -> None:
    texts = [spell(u) for u, spell in ids]  # type: ignore[operator]
    assert stream_numbers(texts) == [UUID(t).int for t in texts]


@pytest.mark.parametrize(
    "odd",
    [
        "5d1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b1g",
        "5d1c0a52-54a4-4bfa-9d1e_0a6f1d8c2b11",
        "5d1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b1",
        "5d1c0a52+54a4-4bfa-9d1e-0a6f1d8c2b11",
        "5d1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b11\n5d1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b11",
        "",
    ],
)
def test_an_id_uuid_refuses_is_refused(odd: str) -> None:
    with pytest.raises(ValueError, match=r"badly formed|invalid literal"):
        UUID(odd)
    with pytest.raises(ValueError, match=r"badly formed|invalid literal"):
        stream_numbers(["0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00", odd])


def _read_by_uuid(texts: list[str]) -> list[int] | None:
    try:
        return [UUID(t).int for t in texts]
    except ValueError:
        return None


def _read(texts: list[str]) -> list[int] | None:
    try:
        return stream_numbers(texts)
    except ValueError:
        return None


@given(
    st.lists(
        st.text(alphabet="0123456789abcdefABCDEF-_x +\n\t{}", min_size=30, max_size=38),
        max_size=4,
    ),
    st.lists(st.uuids(), max_size=3),
)
def test_texts_int_reads_leniently_are_read_as_uuid_reads_them(
    odd: list[str], ids: list[UUID]
) -> None:
    """`int(digits, 16)` takes `_`, `0x`, signs and spaces that the fast path must not pass
    through unchecked: whatever `UUID` makes of such texts (a number, or a refusal), so
    does `stream_numbers`, among ids of the usual spelling too."""
    texts = [str(u) for u in ids] + odd
    assert _read(texts) == _read_by_uuid(texts)


@pytest.mark.parametrize(
    "odd",
    [
        "0x" + "a" * 30,
        "aaaa_bbbb" + "c" * 23,
        " " + "d" * 31,
        "+" + "e" * 31,
        "f" * 31 + "\n",
        "0a-1b2c3d4e5f60718293a4b5c6d7e8f901",
    ],
)
def test_an_id_int_would_take_is_read_as_uuid_reads_it(odd: str) -> None:
    texts = ["0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00", odd]
    assert _read(texts) == _read_by_uuid(texts)
