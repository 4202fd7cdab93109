"""A read whose parameter is an array of many ids is never a prepared statement on a pooled
connection, however often that connection runs it (service.adapters.pg_arrays
`execute_with_array`). psycopg prepares a query at its fifth run on one connection, and
PostgreSQL may then settle on a generic plan without the array's values: the leaves of
5,100 streams took 2.0-3.6 s a read that way, against 50-150 ms planned for the array."""

from __future__ import annotations

from uuid import UUID

from psycopg.rows import tuple_row

from service.adapters.event_rows import one_connection
from service.adapters.event_streams import stream_rows_named, stream_rows_named_ahead
from service.adapters.merkle_log import MerkleLog
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

RUNS = 12
"""More than psycopg's `prepare_threshold` (5) and PostgreSQL's five custom plans together."""


def test_reads_by_an_array_of_ids_are_never_prepared(world: World) -> None:
    recorder = world.app.recorder
    merkle = MerkleLog(recorder)
    named = list(dict.fromkeys(e.originator_id for e in world.views.index("device:sos-0001")))
    streams = [UUID(text) for text in named]
    with one_connection(recorder) as conn:
        first = (
            merkle.stream_leaf_rows(streams, conn),
            stream_rows_named(recorder, named, conn=conn),
        )
        for _ in range(RUNS):
            with merkle.stream_leaf_rows_ahead(streams, conn) as leaves:
                assert sorted(leaves()) == sorted(first[0])
            with stream_rows_named_ahead(recorder, named, conn=conn) as rows:
                assert rows() == first[1]
            assert merkle.stream_leaf_rows(streams, conn) == first[0]
            assert stream_rows_named(recorder, named, conn=conn) == first[1]
        if conn is None:  # SQLite: no connection held, nothing prepared
            return
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute("SELECT statement FROM pg_prepared_statements", prepare=False)
            prepared = [statement for (statement,) in cur.fetchall()]
    assert len(first[0]) > 10 and len(first[1]) > 10
    assert [s for s in prepared if "ANY(" in s] == []
