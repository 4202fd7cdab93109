"""How the views' and the Merkle log's tables are stored on PostgreSQL (pg10): the same rows
and answers, less of the server's work a heartbeat.

- A document rewritten in a batch stays on its page (a HOT update: no new entry in either
  of its indexes), even when the batch that wrote it filled the page at the default fillfactor;
  a store made before the fillfactor gets it when it is opened.
- The views' index compares its subject byte by byte (`COLLATE "C"`), and reads it back
  the same.
- The Merkle log finds a stream's leaves through a hash index, by the `= ANY` its reader asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from projections.store import DocWrite, IndexEntry, open_view_store
from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_log import MerkleLog
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts


@pytest.fixture
def url() -> Iterator[str]:
    need_service("PostgreSQL", *pg_admin_parts())
    with scratch_database(POSTGRES_ADMIN_URL, "lw_pg_storage") as made:
        yield made


def _device(n: int, seen: str) -> DocWrite:
    """A document of a device's size (~250 bytes of JSON, as a heartbeat leaves it)."""
    doc = {"school": "bench", "staff": f"st-{n:04d}", "kind": "sos_fob", "id": f"dev-{n:05d}"}
    doc |= {"counts": {"heartbeat": 7}, "staff_name": f"Staff {n}", "last_seen": seen}
    doc |= {"last_kind": "heartbeat", "battery": 87, "low_battery": False, "pad": "x" * 60}
    return DocWrite("device", f"dev-{n:05d}", "bench", None, doc)


def _page(url: str, doc_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (ctid::text::point)[0]::int FROM lw_view_docs WHERE kind = 'device' AND id = %s",
            (doc_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_document_rewritten_stays_on_its_page(url: str) -> None:
    views = open_view_store(url)
    try:
        # Forty documents in one batch: at fillfactor 100 the first page is full of them.
        first = [_device(n, "2026-12-07T09:00:00+00:00") for n in range(40)]
        views.commit("views", expected=0, position=1, docs=first, index=[])
        page = _page(url, "dev-00000")
        again = [_device(0, "2026-12-07T09:00:30+00:00")]
        views.commit("views", expected=1, position=2, docs=again, index=[])
        assert _page(url, "dev-00000") == page
        assert views.get("device", "dev-00000") == again[0].doc
    finally:
        views.close()


def test_a_store_made_before_gets_the_fillfactor_when_opened(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE lw_view_docs (kind TEXT NOT NULL, id TEXT NOT NULL, school TEXT,"
            " state TEXT, doc TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )
    for _ in range(2):  # and opening it again changes nothing
        open_view_store(url).close()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT reloptions FROM pg_class WHERE oid = 'lw_view_docs'::regclass"
            ).fetchone()
        assert row is not None
        assert row[0] == ["fillfactor=50"]


def test_the_index_subject_compares_bytes_and_reads_back(url: str) -> None:
    views = open_view_store(url)
    try:
        entries = [IndexEntry("device:é-1", n, f"stream-{n}", 1) for n in (3, 1, 2)]
        entries.append(IndexEntry("device:E-1", 4, "stream-4", 1))
        views.commit("views", expected=0, position=4, docs=[], index=entries)
        assert [e.position for e in views.index("device:é-1")] == [1, 2, 3]
        assert [e.position for e in views.index("device:E-1")] == [4]
    finally:
        views.close()
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation"
            " WHERE a.attrelid = 'lw_view_index'::regclass AND a.attname = 'subject'"
        ).fetchone()
    assert row == ("C",)


def test_a_batchs_index_rows_go_in_grouped_by_subject(url: str) -> None:
    """A live round's rows come event by event, a device's and its staff member's in turn;
    sent grouped by subject, each subject's rows follow one another into the key's B-tree
    (and the table), its positions in the order made."""
    views = open_view_store(url)
    try:
        entries = []
        for n in range(1, 41):
            entries.append(IndexEntry(f"device:dev-{n % 4}", n, f"stream-{n}", 1))
            entries.append(IndexEntry(f"staff:st-{n % 3}", n, f"stream-{n}", 1))
        views.commit("views", expected=0, position=40, docs=[], index=entries)
        assert [e.position for e in views.index("device:dev-1")] == list(range(1, 41, 4))
    finally:
        views.close()
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT subject, position FROM lw_view_index ORDER BY ctid"
        ).fetchall()
    assert stored == sorted(stored, key=lambda row: row[0])
    assert sorted(stored) == sorted((e.subject, e.position) for e in entries)


def test_the_leaves_of_a_stream_are_found_through_a_hash_index(url: str) -> None:
    app = Lonewatch(eventsourcing_env(url), FakeClock())
    try:
        recorder: Any = app.recorder
        streams = [uuid.uuid4() for _ in range(3)]
        recorder.insert_events(
            [StoredEvent(s, v, "alert:Raised", bytes([v])) for s in streams for v in (1, 2)]
        )
        log = MerkleLog(recorder)
        log.catch_up()
        found = log.stream_leaves(streams[:2])
        assert sorted(found) == sorted(streams[:2])
        assert all(sorted(found[s]) == [1, 2] for s in found)
    finally:
        app.close()
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam"
            " WHERE c.relname = 'lw_merkle_leaves_stream'"
        ).fetchone()
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT * FROM lw_merkle_leaves WHERE originator_id = ANY(%s)",
            ([streams[0].hex],),
        ).fetchall()
    assert row == ("hash",)
    assert "lw_merkle_leaves_stream" in " ".join(str(line[0]) for line in plan)
