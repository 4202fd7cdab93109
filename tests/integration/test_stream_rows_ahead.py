"""A record's streams asked for ahead by the index's texts (`stream_rows_named_ahead`: on a
held PostgreSQL connection sent at once in pipeline mode, read once the index is grouped)
are the rows `stream_rows_named` reads, whatever the names' order or repeats, on SQLite and
PostgreSQL (a page groups them by stream); and the log's leaves asked for by their hexes are those asked for by `UUID`
(a cold page as of an instant; docs/performance.md, asof12)."""

from __future__ import annotations

from uuid import UUID

from service.adapters.event_rows import one_connection
from service.adapters.event_streams import stream_rows_named, stream_rows_named_ahead
from service.adapters.merkle_log import MerkleLog
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World


def test_rows_asked_for_ahead_are_the_rows_read(world: World) -> None:
    recorder = world.app.recorder
    texts = [e.originator_id for e in world.views.index("device:sos-0001")]
    named = list(dict.fromkeys(texts))
    assert len(named) > 10
    absent = str(UUID(int=7))  # a stream with no rows
    with one_connection(recorder) as conn:
        read = stream_rows_named(recorder, [*named, absent], conn=conn)
        assert len(read) >= len(named)
        with stream_rows_named_ahead(recorder, [*named, absent], conn=conn) as ahead:
            assert ahead() == read  # in the same order, each the driver's tuple
        # Named in another order and more than once: the same rows (PostgreSQL's `= ANY`
        # in stream and version order; SQLite's by the names' order, each stream's by version).
        with stream_rows_named_ahead(
            recorder, [absent, *reversed(texts), *texts], conn=conn
        ) as ahead:
            assert sorted(ahead()) == sorted(read)
        # The held connection reads on after the block, as it did before it.
        assert stream_rows_named(recorder, named, conn=conn) == read
    with stream_rows_named_ahead(recorder, named) as unheld:  # none held: read at once
        assert unheld() == read
    with stream_rows_named_ahead(recorder, []) as none:
        assert none() == []


def test_leaves_asked_for_by_their_hexes_are_those_asked_for_by_uuid(world: World) -> None:
    merkle = MerkleLog(world.app.recorder)
    merkle.catch_up()
    named = list(dict.fromkeys(e.originator_id for e in world.views.index("device:sos-0001")))
    streams = [UUID(text) for text in named] + [UUID(int=7)]
    with one_connection(world.app.recorder) as conn:
        read = merkle.stream_leaf_rows(streams, conn)
        hexes = [format(u.int, "032x") for u in streams]
        with merkle.stream_leaf_rows_ahead(streams, conn, hexes=hexes) as ahead:
            assert sorted(ahead()) == sorted(read)
    assert len(read) >= len(named) > 10
