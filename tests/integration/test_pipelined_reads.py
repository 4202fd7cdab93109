"""A cold page as of an instant asks for its streams' rows and their Merkle leaves in one
pipeline on its held connection (service/records/instant_page.py; docs/performance.md,
asof9): what it reads so must be exactly what the two reads give one after the other, on
PostgreSQL (pipelined) and SQLite (read at once), a stream with no rows included.
"""

from __future__ import annotations

from contextlib import nullcontext
from uuid import UUID, uuid4

import pytest

from service.adapters.event_rows import one_connection
from service.adapters.event_streams import stream_rows_named, stream_rows_named_sent
from service.adapters.merkle_log import MerkleLog
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World


@pytest.fixture
def named(world: World) -> list[str]:
    """The record's streams as the views' index names them, and one that holds nothing."""
    entries = world.views.index("device:sos-0001")
    return [*dict.fromkeys(entry.originator_id for entry in entries), str(uuid4())]


def test_pipelined_rows_and_leaves_are_the_reads_one_after_the_other(
    world: World, named: list[str]
) -> None:
    merkle = MerkleLog(world.app.recorder)
    streams = [UUID(text) for text in named]
    rows = stream_rows_named(world.app.recorder, named)
    leaves = merkle.stream_leaf_rows(streams)
    assert rows and leaves
    with one_connection(world.app.recorder) as conn:
        with conn.pipeline() if conn is not None else nullcontext():
            rows_read = stream_rows_named_sent(world.app.recorder, named, conn)
            leaves_read = merkle.stream_leaf_rows_sent([u.hex for u in streams], conn)
            assert rows_read() == rows
            assert sorted(leaves_read()) == sorted(leaves)
        # The connection is usable after, as the page goes on to use it.
        assert merkle.size(conn)[0] > 0
