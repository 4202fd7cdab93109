"""`check_sealed` (service/adapters/sealing.py), the stored-row memo's quicker check of a
stream, says exactly what `check_stream` says of every stream, sound or not: the same
checks field for field, the same problems worded (docs/performance.md, export6)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from service.adapters.sealing import (
    GENESIS,
    MAGIC,
    check_sealed,
    check_stream,
    checks_sealed,
    seal,
)


def _sealed(originator_id: UUID, count: int) -> list[StoredEvent]:
    previous, stream = GENESIS, []
    for version in range(1, count + 1):
        body = f"event {version}".encode()
        previous = seal(previous, originator_id, version, "topic", body)
        stream.append(StoredEvent(originator_id, version, "topic", MAGIC + previous + body))
    return stream


def _altered(stream: list[StoredEvent], at: int) -> list[StoredEvent]:
    s = stream[at]
    changed = StoredEvent(s.originator_id, s.originator_version, s.topic, s.state + b"!")
    return [*stream[:at], changed, *stream[at + 1 :]]


def _unsealed(stream: list[StoredEvent], at: int) -> list[StoredEvent]:
    s = stream[at]
    bare = StoredEvent(s.originator_id, s.originator_version, s.topic, s.state[36:])
    return [*stream[:at], bare, *stream[at + 1 :]]


STREAMS = {
    "empty": lambda u: [],
    "one event, sealed": lambda u: _sealed(u, 1),
    "four events, sealed": lambda u: _sealed(u, 4),
    "the only event altered": lambda u: _altered(_sealed(u, 1), 0),
    "a middle event altered": lambda u: _altered(_sealed(u, 4), 1),
    "the last event altered": lambda u: _altered(_sealed(u, 4), 3),
    "an event removed": lambda u: [e for e in _sealed(u, 4) if e.originator_version != 2],
    "the first event removed": lambda u: _sealed(u, 3)[1:],
    "an event stored before sealing": lambda u: _unsealed(_sealed(u, 3), 0),
    "a later event stored unsealed": lambda u: _unsealed(_sealed(u, 3), 2),
    "a seal moved to another stream": lambda u: _sealed(uuid4(), 2),
    "the only event stored before sealing": lambda u: _unsealed(_sealed(u, 1), 0),
    "the only event at version 2": lambda u: _sealed(u, 2)[1:],
    "the only event's seal moved from another stream": lambda u: _sealed(uuid4(), 1),
}


@pytest.mark.parametrize("kind", list(STREAMS))
def test_check_sealed_says_what_check_stream_says(kind: str) -> None:
    originator_id = uuid4()
    stream = STREAMS[kind](originator_id)
    quick, general = check_sealed(originator_id, stream), check_stream(originator_id, stream)
    assert quick == general
    assert [vars(e) for e in quick.events] == [vars(e) for e in general.events]
    assert quick.ok is general.ok
    assert quick.problems() == general.problems()


def test_a_records_streams_checked_at_once_are_what_check_stream_says() -> None:
    """`checks_sealed` (a record's streams at once, a one-event stream without
    `sound_seals`' loop: export11) says of each what `check_stream` says."""
    streams = [(u, STREAMS[kind](u)) for kind in STREAMS for u in (uuid4(),)]
    quick = checks_sealed(streams)
    general = [check_stream(u, stream) for u, stream in streams]
    assert quick == general
    assert [vars(c) for c in quick] == [vars(c) for c in general]
    assert [[vars(e) for e in c.events] for c in quick] == [
        [vars(e) for e in c.events] for c in general
    ]
    assert [c.ok for c in quick] == [c.ok for c in general]


def test_streams_keyed_by_number_and_named_are_checked_as_by_their_ids() -> None:
    """A record keyed by number names each stream by its id's text (ids12): the checks are
    those made from the `UUID`s, sound or not, of one event or many, a seal from another
    stream too (its row's `UUID` is not the stream's)."""
    streams = [(u, STREAMS[kind](u)) for kind in STREAMS for u in (uuid4(),)]
    by_text = checks_sealed(
        [(u.int, stream) for u, stream in streams], [str(u) for u, _ in streams]
    )
    by_id = checks_sealed(streams)
    assert by_text == by_id
    assert [vars(c) for c in by_text] == [vars(c) for c in by_id]
    assert [[vars(e) for e in c.events] for c in by_text] == [
        [vars(e) for e in c.events] for c in by_id
    ]
