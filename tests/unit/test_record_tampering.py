"""Any single change to a signed record shows: an event altered, removed, added or moved,
or a whole stream removed (issue 16: "a removed tail goes unseen" no more).

The store is eventsourcing's own SQLite recorder (in memory, so that hypothesis can try
hundreds of records); the same checks run on PostgreSQL in tests/integration/test_merkle_record.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.adapters.merkle_log import MerkleLog
from service.adapters.signing import SigningKey
from service.records.verification import verify_store

KEY = SigningKey.generate()


@contextmanager
def a_signed_store(streams: list[int]) -> Iterator[MerkleLog]:
    """Streams of these lengths, their events interleaved as a day's would be, all signed."""
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(":memory:"))
    recorder.create_table()
    ids = [uuid.UUID(int=i + 1) for i in range(len(streams))]
    for version in range(1, max(streams) + 1):
        batch = [
            StoredEvent(ids[i], version, "alert:Raised", f"{i}/{version}".encode())
            for i, length in enumerate(streams)
            if version <= length
        ]
        recorder.insert_events(batch)
    log = MerkleLog(recorder)
    log.catch_up()
    assert log.sign(KEY, 1_700_000_000_000) is not None
    try:
        yield log
    finally:
        recorder.datastore.close()


def sql(log: MerkleLog, statement: str, params: tuple[Any, ...] = ()) -> None:
    with log.recorder.datastore.transaction(commit=True) as cur:
        cur.execute(statement.replace("EVENTS", log.recorder.events_table_name), params)


def alter(log: MerkleLog, position: int) -> None:
    sql(log, "UPDATE EVENTS SET state = ? WHERE rowid = ?", (b"edited", position))


def remove(log: MerkleLog, position: int) -> None:
    sql(log, "DELETE FROM EVENTS WHERE rowid = ?", (position,))


def swap(log: MerkleLog, first: int, second: int) -> None:
    """Two events trade places in the record (each keeps its stream and version)."""
    sql(
        log,
        "UPDATE EVENTS SET state = CASE rowid WHEN ? THEN (SELECT state FROM EVENTS WHERE rowid = ?) "
        "ELSE (SELECT state FROM EVENTS WHERE rowid = ?) END WHERE rowid IN (?, ?)",
        (first, second, first, first, second),
    )


def remove_stream(log: MerkleLog, stream: int) -> None:
    sql(log, "DELETE FROM EVENTS WHERE originator_id = ?", (uuid.UUID(int=stream + 1).hex,))


def insert(log: MerkleLog, position: int) -> None:
    """An event slipped in where one was removed: a new stream, at the old position."""
    remove(log, position)
    sql(
        log,
        "INSERT INTO EVENTS (rowid, originator_id, originator_version, topic, state) "
        "VALUES (?, ?, 1, 'alert:Raised', ?)",
        (position, uuid.uuid4().hex, b"forged"),
    )


def also_rewrite_the_log(log: MerkleLog) -> None:
    """An attacker with the database but not the key: recompute every leaf to match."""
    sql(log, "DELETE FROM lw_merkle_leaves")
    MerkleLog(log.recorder).catch_up()


streams = st.lists(st.integers(1, 6), min_size=1, max_size=6)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(streams, st.data(), st.booleans())
def test_any_single_change_is_detected(
    lengths: list[int], data: st.DataObject, rewrite_log: bool
) -> None:
    total = sum(lengths)
    with a_signed_store(lengths) as log:
        assert verify_store(log, trusted=[KEY.public]).ok
        change = data.draw(st.sampled_from(["alter", "remove", "swap", "stream", "insert"]))
        position = data.draw(st.integers(1, total))
        if change == "alter":
            alter(log, position)
        elif change == "remove":
            remove(log, position)
        elif change == "insert":
            insert(log, position)
        elif change == "stream":
            remove_stream(log, data.draw(st.integers(0, len(lengths) - 1)))
        else:
            if total < 2:
                return
            other = data.draw(st.integers(1, total).filter(lambda p: p != position))
            swap(log, position, other)
        if rewrite_log:
            also_rewrite_the_log(log)
        verdict = verify_store(log, trusted=[KEY.public])
        assert not verdict.ok, f"{change} at {position} went unseen"


def test_removing_an_alerts_tail_names_what_is_gone() -> None:
    """The attack from issue 16: the acknowledgement and resolution deleted."""
    with a_signed_store([4]) as log:
        head = log.latest_head()
        remove(log, 3)
        remove(log, 4)
        verdict = verify_store(log, trusted=[KEY.public])
        assert not verify_store(log, trusted=[KEY.public], since=head).ok
    assert not verdict.ok
    assert "the event at position 3 (leaf 2) is gone: removed" in verdict.problems
    assert any("covers 4 events; the store holds 2" in p for p in verdict.problems)


def test_a_head_signed_with_another_key_is_refused() -> None:
    with a_signed_store([2, 2]) as log:
        verdict = verify_store(log, trusted=[SigningKey.generate().public])
    assert not verdict.ok
    assert "not one of the trusted public keys" in verdict.problems[0]


def test_a_later_head_proves_it_extends_an_earlier_one() -> None:
    with a_signed_store([3, 2]) as log:
        earlier = log.latest_head()
        assert earlier is not None
        log.recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "alert:Raised", b"later")])
        log.catch_up()
        later = log.sign(KEY, 1_700_000_060_000)
        assert later is not None and later.size == earlier.size + 1
        verdict = verify_store(log, trusted=[KEY.public], since=earlier)
        assert verdict.ok, verdict.problems
        assert any("extends the earlier head" in n for n in verdict.notes)
        # Rewritten history with a fresh (stolen-key) head still cannot extend the earlier one.
        alter(log, 2)
        also_rewrite_the_log(log)
        sql(log, "DELETE FROM lw_merkle_heads")
        MerkleLog(log.recorder).sign(KEY, 1_700_000_120_000)
        verdict = verify_store(log, trusted=[KEY.public], since=earlier)
    assert not verdict.ok
    assert any("not an extension of the earlier head" in p for p in verdict.problems)


@pytest.mark.parametrize("appenders", [1, 3])
def test_appenders_agree_on_every_leaf(appenders: int) -> None:
    """Several `lonewatch serve` processes each follow the store: the log is the same."""
    with a_signed_store([1]) as log:
        recorder = log.recorder
        logs = [MerkleLog(recorder) for _ in range(appenders)]
        for n in range(12):
            recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([n]))])
            logs[n % appenders].append_new(limit=3)
        for each in logs:
            each.catch_up()
        assert log.sign(KEY, 1_700_000_200_000) is not None
        assert verify_store(log, trusted=[KEY.public]).ok
        assert [leaf.leaf_index for leaf in log.leaves()] == list(range(13))


def test_threads_sharing_one_log_sign_only_true_heads() -> None:
    """The worker and an export catch up and sign on one `MerkleLog` from two threads."""
    import threading

    with a_signed_store([1]) as log:
        recorder = log.recorder

        def write_and_sign(offset: int) -> None:
            for n in range(30):
                recorder.insert_events(
                    [StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([offset, n]))]
                )
                log.append_new(limit=2)
                log.sign(KEY, 1_700_000_000_000 + offset * 1000 + n)

        threads = [threading.Thread(target=write_and_sign, args=(t,)) for t in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log.catch_up()
        log.sign(KEY, 1_800_000_000_000)
        verdict = verify_store(log, trusted=[KEY.public])
        assert verdict.ok, verdict.problems
        assert len(log.heads()) > 1


def test_an_event_saved_while_a_record_is_read_is_not_taken_for_a_removed_one() -> None:
    """A timeline read during a live alert: the acknowledgement lands between reading the
    stream and asking the log. Only leaves the log held before the read count."""
    from service.records.proofs import stream_problems

    with a_signed_store([3]) as log:
        stream = uuid.UUID(int=1)
        _, horizon = log.size()
        read = list(log.recorder.select_events(stream))
        log.recorder.insert_events([StoredEvent(stream, 4, "alert:Acknowledged", b"ack")])
        log.catch_up()
        assert stream_problems(log, {stream: read}, {}, horizon) == {}
        remove(log, 3)
        read = list(log.recorder.select_events(stream))
        problems = stream_problems(log, {stream: read}, {}, horizon)
    assert list(problems) == [(stream, 3)]
    assert "removed" in problems[(stream, 3)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams=st.lists(st.integers(1, 3), min_size=1, max_size=4), data=st.data())
def test_an_event_whose_bytes_are_not_its_leafs_is_altered(streams: list[int], data: Any) -> None:
    """The log's side of a record's check (service/records/proofs.py `stream_problems`): an
    event whose stored bytes no longer hash to the leaf the log took in is named altered,
    and only that event. These events carry no seals: the log's check alone must see it
    (as it must where a forger made a stream's seals again to match)."""
    from service.records.proofs import stream_problems

    with a_signed_store(streams) as log:
        total = sum(streams)
        position = data.draw(st.integers(1, total))
        alter(log, position)
        _, horizon = log.size()
        read = {
            uuid.UUID(int=i + 1): list(log.recorder.select_events(uuid.UUID(int=i + 1)))
            for i in range(len(streams))
        }
        at = {
            n.id: (n.originator_id, n.originator_version)
            for n in log.recorder.select_notifications(1, total)
        }
        positions = {key: p for p, key in at.items()}
        problems = stream_problems(log, read, positions, horizon)
    assert list(problems) == [at[position]]
    assert "altered" in problems[at[position]]
