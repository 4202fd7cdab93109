"""A text array packed for PostgreSQL is the same bytes by the one-`join` framing of texts
of one length in ASCII (a cold page as of an instant's 5,100 stream ids) as by framing each
text on its own: `array_send`'s layout, each element its length and its UTF-8 bytes."""

from __future__ import annotations

import struct
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from service.adapters.pg_arrays import TextArray


def _one_by_one(values: list[str]) -> bytes:
    if not values:
        return struct.pack(">iii", 0, 0, 25)
    body = b"".join(struct.pack(">i", len(v.encode())) + v.encode() for v in values)
    return struct.pack(">iiiii", 1, 0, 25, len(values), 1) + body


def test_stream_ids_as_text_and_hex_are_framed_as_one_by_one() -> None:
    ids = [UUID(int=n * 7919 + 1) for n in range(500)]
    for values in ([str(u) for u in ids], [u.hex for u in ids], ["x"], []):
        assert bytes(TextArray.of(values)) == _one_by_one(values)


@given(st.lists(st.text(max_size=4)), st.integers(min_value=0, max_value=5))
def test_any_texts_are_framed_as_one_by_one(texts: list[str], width: int) -> None:
    same_length = [(t * 5)[:width].ljust(width, "a") for t in texts]  # the joined path
    for values in (texts, same_length):
        assert bytes(TextArray.of(values)) == _one_by_one(values)
