"""The memos of service/records/stored_rows.py are keyed by what they answer for: a stream's
id (as its int), each event's version, topic and bytes. An answer is never handed back for
bytes, a version or a stream other than those it was made from (a tampered row is checked
afresh), whichever way the key is made (one event, many; a stream's id as a UUID)."""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from service.adapters.sealing import GENESIS, MAGIC, seal
from service.records.stored_rows import StoredRows

TOPIC = "service.domain.devices.messages:DeviceMessage"


def sealed_stream(stream: UUID, bodies: list[bytes]) -> list[StoredEvent]:
    previous, stored = GENESIS, []
    for version, body in enumerate(bodies, start=1):
        this = seal(previous, stream, version, TOPIC, body)
        stored.append(StoredEvent(stream, version, TOPIC, MAGIC + this + body))
        previous = this
    return stored


def altered(event: StoredEvent, body: bytes) -> StoredEvent:
    """The same row with its content changed and its seal left as it was."""
    state = bytes(event.state)
    return StoredEvent(
        event.originator_id, event.originator_version, event.topic, state[:36] + body
    )


def test_a_one_event_stream_altered_is_checked_afresh() -> None:
    memo, stream = StoredRows(), uuid4()
    (event,) = sealed_stream(stream, [b'{"battery": 80}'])
    assert memo.stream_checks({stream: [event]})[0].ok
    assert not memo.stream_checks({stream: [altered(event, b'{"battery": 81}')]})[0].ok
    assert not memo.stream_check(stream, [altered(event, b'{"battery": 81}')]).ok
    assert memo.stream_check(stream, [event]).ok


def test_a_stream_of_many_events_altered_anywhere_is_checked_afresh() -> None:
    memo, stream = StoredRows(), uuid4()
    events = sealed_stream(stream, [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}'])
    assert memo.stream_checks({stream: events})[0].ok
    for at in range(3):
        changed = [*events[:at], altered(events[at], b'{"a": 9}'), *events[at + 1 :]]
        check = memo.stream_checks({stream: changed})[0]
        assert [e.ok for e in check.events][at] is False
    # Its first event alone is another stream read (one event, one key shape).
    assert memo.stream_checks({stream: events[:1]})[0].events[0].ok
    assert len(memo.stream_checks({stream: events})[0].events) == 3


def test_the_same_bytes_in_another_stream_or_version_are_not_the_same_answer() -> None:
    memo, stream, other = StoredRows(), uuid4(), uuid4()
    (event,) = sealed_stream(stream, [b'{"battery": 80}'])
    moved = StoredEvent(other, 1, TOPIC, event.state)
    assert memo.stream_checks({stream: [event]})[0].ok
    check = memo.stream_checks({other: [moved]})[0]
    assert check.originator_id == str(other)
    assert not check.ok
    decoded: list[StoredEvent] = []
    memo.event(lambda s: decoded.append(s) or s, event)
    memo.event(lambda s: decoded.append(s) or s, moved)
    memo.event(lambda s: decoded.append(s) or s, StoredEvent(stream, 2, TOPIC, event.state))
    assert len(decoded) == 3
    assert memo.leaf(1, stream, 1, TOPIC, b"x") != memo.leaf(1, other, 1, TOPIC, b"x")


def test_stream_ids_are_made_from_their_text_and_forgotten_with_the_rest() -> None:
    memo, stream = StoredRows(), uuid4()
    made = memo.stream_id(str(stream))
    assert made == stream
    assert memo.stream_id(str(stream)) is made
    memo.clear()
    assert memo.stream_id(str(stream)) is not made


def test_events_decoded_many_at_once_are_each_as_decoded_alone_and_bounded() -> None:
    """`StoredRows.events` (a record's read) answers as `event` does row by row: the same
    object for the same bytes, a row changed decoded afresh, a row repeated in one call
    decoded once, and the memo held to its capacity, the oldest let go."""
    memo = StoredRows(capacity=3)
    made: list[bytes] = []

    def decode(row: StoredEvent) -> object:
        made.append(bytes(row.state))
        return object()

    rows = [sealed_stream(uuid4(), [b'{"n": %d}' % n])[0] for n in range(4)]
    first = memo.events(decode, [rows[0], rows[1], rows[0]])
    assert first[0] is first[2] is memo.event(decode, rows[0])
    assert len(made) == 2
    changed = altered(rows[1], b'{"n": 9}')
    again = memo.events(decode, [rows[1], changed])
    assert again[0] is first[1] and again[1] is not first[1]
    assert len(made) == 3
    memo.events(decode, rows[2:])  # five made, three kept: the two oldest let go
    assert memo.event(decode, rows[0]) is not first[0]
    assert memo.events(decode, rows[2:]) == memo.events(decode, rows[2:])


def test_stream_ids_made_many_at_once_are_each_as_made_alone() -> None:
    memo = StoredRows(capacity=2)
    texts = [str(uuid4()) for _ in range(3)]
    ids = memo.stream_ids([texts[0], texts[1], texts[0]])
    assert ids == [UUID(texts[0]), UUID(texts[1]), UUID(texts[0])]
    assert ids[0] is ids[2] is memo.stream_id(texts[0])
    assert memo.stream_ids(texts[2:]) == [UUID(texts[2])]
    assert memo.stream_id(texts[0]) is not ids[0]  # let go: the oldest past capacity
