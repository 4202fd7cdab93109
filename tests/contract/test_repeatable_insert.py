"""A group's insert with repeatable streams, on SQLite and on PostgreSQL: a repeated device
message is left out (no position), anything else that collides refuses the whole group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from service.adapters.event_inserts import SealedRow, insert_events
from tests.worlds import World


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url)
    yield w
    w.close()


def event(originator: object, version: int = 1) -> StoredEvent:
    return StoredEvent(originator, version, "tests:Event", b"{}")  # type: ignore[arg-type]


def _positions(recorder: Any) -> dict[UUID, int]:
    """Each stream's position as the notification log tells it."""
    return {n.originator_id: n.id for n in recorder.select_notifications(start=1, limit=100)}


def test_a_repeated_message_is_left_out_and_the_rest_go_in(world: World) -> None:
    recorder = world.app.recorder
    stored, fresh = uuid4(), uuid4()
    [first] = insert_events(recorder, [event(stored)]) or [None]
    positions = insert_events(recorder, [event(stored), event(fresh)], repeatable={stored, fresh})
    assert positions is not None and positions[0] is None and positions[1] is not None
    assert positions[1] > (first or 0)
    assert _positions(recorder) == {stored: first, fresh: positions[1]}
    assert len(recorder.select_events(stored)) == 1
    assert len(recorder.select_events(fresh)) == 1


def test_anything_else_that_collides_refuses_the_whole_group(world: World) -> None:
    """An alert or any aggregate whose version is taken is a conflict, not a repeat."""
    recorder = world.app.recorder
    taken, repeat, fresh = uuid4(), uuid4(), uuid4()
    insert_events(recorder, [event(taken), event(repeat)])
    with pytest.raises(IntegrityError):
        insert_events(
            recorder, [event(repeat), event(fresh), event(taken)], repeatable={repeat, fresh}
        )
    assert recorder.select_events(fresh) == [], "nothing of the refused group went in"
    with pytest.raises(IntegrityError):
        insert_events(recorder, [event(fresh), event(taken)])
    assert recorder.select_events(fresh) == []


@pytest.mark.parametrize("repeatable", [False, True])
def test_sealed_rows_go_in_as_the_librarys_stored_events_do(world: World, repeatable: bool) -> None:
    """The sealing store hands the insert tuples (`SealedRow`), not `StoredEvent`s: on every
    path (one statement, the row-by-row upsert, the library's own insert) the same rows."""
    recorder = world.app.recorder
    ids = [uuid4() for _ in range(3)]
    rows = [SealedRow(i, 1, "tests:Event", b'{"n": %d}' % n) for n, i in enumerate(ids)]
    positions = insert_events(recorder, rows, repeatable=set(ids) if repeatable else ())
    assert positions is not None and None not in positions
    assert _positions(recorder) == dict(zip(ids, positions, strict=True))
    for row in rows:
        [stored] = recorder.select_events(row.originator_id)
        assert (stored.originator_version, stored.topic, bytes(stored.state)) == row[1:]


def test_postgres_tries_new_messages_without_the_per_row_conflict_check(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL `ON CONFLICT DO NOTHING` probes each row's key first and confirms each
    speculative insert: a group of device messages none of which is stored goes in plainly;
    a group holding a repeat is refused whole and inserted again leaving the repeat out;
    the groups right after it (repeats come in runs) go the skipping way at once."""
    import psycopg

    from service.adapters import event_inserts

    inserts: list[str] = []
    execute = psycopg.Cursor.execute

    def spied(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.decode() if isinstance(query, bytes) else str(query)
        if text.startswith("INSERT INTO"):
            inserts.append("skipping" if "ON CONFLICT" in text else "plain")
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spied)
    monkeypatch.setattr(event_inserts, "REPEATS_REMEMBERED", 2)
    world = World(postgres_url)
    try:
        recorder = world.app.recorder
        stored = uuid4()
        [first] = insert_events(recorder, [event(stored)]) or [None]
        fresh = [uuid4() for _ in range(3)]
        positions = insert_events(recorder, [event(f) for f in fresh], repeatable=set(fresh))
        assert positions is not None and None not in positions
        assert inserts == ["plain", "plain"]
        again = uuid4()
        positions = insert_events(
            recorder, [event(again), event(stored)], repeatable={again, stored}
        )
        assert positions is not None and positions[1] is None and positions[0] is not None
        assert inserts[2:] == ["plain", "skipping"], "refused once, then the repeat left out"
        for _ in range(3):
            new = uuid4()
            assert None not in (insert_events(recorder, [event(new)], repeatable={new}) or [None])
        assert inserts[4:] == ["skipping", "skipping", "plain"], "a run remembered, then plain"
        assert _positions(recorder)[stored] == first
        assert all(len(recorder.select_events(i)) == 1 for i in [stored, again, *fresh])
    finally:
        world.close()
