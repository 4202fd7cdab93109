"""A record keyed by number (service/records/record_streams.py, ids12) takes its streams'
numbers and names from the views' index's texts: the numbers are `UUID(text).int`, the
names `str(UUID(text))`, whichever way a text is spelt; and its checks keyed by number and
named by those texts are those keyed by `UUID` (`StoredRows.stream_checks`)."""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.sealing import GENESIS, MAGIC, seal
from service.records.stored_rows import StoredRows
from service.records.stream_numbers import streams_named

_SPELLINGS = [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: "{" + str(u) + "}"]


@given(st.lists(st.tuples(st.uuids(), st.sampled_from(range(len(_SPELLINGS))))))
def test_streams_named_are_their_ids_numbers_and_texts(ids: list[tuple[UUID, int]]) -> None:
    texts = [_SPELLINGS[how](u) for u, how in ids]
    numbers, names = streams_named(texts)
    assert numbers == [UUID(t).int for t in texts]
    assert names == [str(UUID(t)) for t in texts]


def test_ids_as_the_index_writes_them_are_their_own_names() -> None:
    texts = [str(uuid4()) for _ in range(3)]
    numbers, names = streams_named(texts)
    assert names == texts
    assert numbers == [UUID(t).int for t in texts]


def _stream(u: UUID, count: int, *, altered: bool = False) -> list[StoredEvent]:
    previous, stored = GENESIS, []
    for version in range(1, count + 1):
        body = f"event {version}".encode()
        previous = seal(previous, u, version, "topic", body)
        stored.append(
            StoredEvent(u, version, "topic", MAGIC + previous + body + (b"!" if altered else b""))
        )
    return stored


def test_checks_keyed_by_number_and_named_by_text_are_those_keyed_by_id() -> None:
    ids = [uuid4() for _ in range(5)]
    streams = {
        ids[0]: _stream(ids[0], 1),
        ids[1]: _stream(ids[1], 3),
        ids[2]: _stream(ids[2], 1, altered=True),
        ids[3]: [],
        ids[4]: _stream(ids[4], 2, altered=True),
    }
    by_id = StoredRows().stream_checks(streams)
    memo = StoredRows()
    by_number = memo.stream_checks(
        {u.int: stored for u, stored in streams.items()}, [str(u) for u in streams]
    )
    assert [vars(c) for c in by_number] == [vars(c) for c in by_id]
    assert [[vars(e) for e in c.events] for c in by_number] == [
        [vars(e) for e in c.events] for c in by_id
    ]
    # Kept by the same keys: asked again by `UUID`, the same checks, none made afresh.
    again = memo.stream_checks(streams)
    assert all(a is b for a, b in zip(again, by_number, strict=True))
