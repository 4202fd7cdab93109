"""The Merkle log's leaves of many streams asked for ahead (`stream_leaf_rows_ahead`: on a
held PostgreSQL connection sent at once in pipeline mode, read later) are the leaves
`stream_leaf_rows` reads, on SQLite and PostgreSQL, and the held connection reads on as
before once the block is left (a cold page as of an instant reads on it;
docs/performance.md, asof11)."""

from __future__ import annotations

from uuid import UUID

from service.adapters.event_rows import one_connection
from service.adapters.merkle_log import MerkleLog
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World


def test_leaves_asked_for_ahead_are_the_leaves_read(world: World) -> None:
    merkle = MerkleLog(world.app.recorder)
    merkle.catch_up()
    named = list(dict.fromkeys(e.originator_id for e in world.views.index("device:sos-0001")))
    streams = [UUID(text) for text in named] + [UUID(int=7)]  # and one with no leaves
    with one_connection(world.app.recorder) as conn:
        read = merkle.stream_leaf_rows(streams, conn)
        with merkle.stream_leaf_rows_ahead(streams, conn) as ahead:
            found = ahead()
        assert sorted(found) == sorted(read)
        assert len(found) >= len(named) > 10
        # The held connection reads on after the block, as it did before it.
        assert sorted(merkle.stream_leaf_rows(streams, conn)) == sorted(read)
        assert merkle.size(conn) == merkle.size()
    with merkle.stream_leaf_rows_ahead(streams) as unheld:  # no connection held: read at once
        assert sorted(unheld()) == sorted(read)
