"""How the SQLite stores keep their tables (sqlite10): the Merkle leaf's index is the
leaves table's rowid (no second B-tree for the key), the views' connection holds a larger
page cache and checkpoints less often, and the answers are the same as before. The event
store's writes (events, leaves) checkpoint less often too, fully synchronous (sqlite11), and
hold their dirty pages to the commit instead of spilling them (sqlite13)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from projections.store import IndexEntry, SQLiteViewStore
from service.adapters.event_inserts import SealedRow, insert_events
from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_log import MerkleLog
from service.adapters.sqlite_writers import SPILL_PAGES
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from tests.conftest import REQUIRE_SERVICES

with contextlib.closing(sqlite3.connect(":memory:")) as _fresh:
    DEFAULT_SPILL = _fresh.execute("PRAGMA cache_spill").fetchone()[0]
"""What SQLite reports for its own spill threshold (the default cache's pages)."""


def _leaves_table(path: Path) -> tuple[list[Any], list[Any]]:
    with sqlite3.connect(path) as conn:
        indexes = conn.execute("PRAGMA index_list(lw_merkle_leaves)").fetchall()
        rows = conn.execute(
            "SELECT rowid, leaf_index, notification_id FROM lw_merkle_leaves ORDER BY leaf_index"
        ).fetchall()
    return indexes, rows


def test_a_new_sqlite_store_keeps_the_leaf_index_as_the_rowid(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    app = Lonewatch(eventsourcing_env(f"sqlite:///{path}"), FakeClock())
    try:
        log = MerkleLog(app.recorder)
        app.recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([n])) for n in range(5)]
        )
        assert log.append_new().leaves == 5
        assert [leaf.leaf_index for leaf in log.leaves()] == list(range(5))
        assert log.size() == (5, 5)
    finally:
        app.close()
    indexes, rows = _leaves_table(path)
    # Only the notification id's UNIQUE and the stream's index: no autoindex for the key.
    assert sorted(row[1] for row in indexes) == [
        "lw_merkle_leaves_stream",
        "sqlite_autoindex_lw_merkle_leaves_1",
    ]
    with sqlite3.connect(path) as conn:
        (unique_on,) = conn.execute(
            "SELECT name FROM pragma_index_info('sqlite_autoindex_lw_merkle_leaves_1')"
        ).fetchone()
    assert unique_on == "notification_id"
    assert rows == [(i, i, i + 1) for i in range(5)]  # the rowid is the leaf's index


def test_a_leaves_table_made_before_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema before sqlite10
        conn.execute(
            "CREATE TABLE lw_merkle_leaves (leaf_index BIGINT PRIMARY KEY,"
            " notification_id BIGINT NOT NULL UNIQUE, leaf_hash TEXT NOT NULL,"
            " originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL)"
        )
    app = Lonewatch(eventsourcing_env(f"sqlite:///{path}"), FakeClock())
    try:
        log = MerkleLog(app.recorder)
        app.recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([n])) for n in range(3)]
        )
        assert log.append_new().leaves == 3
        assert log.size() == (3, 3)
    finally:
        app.close()
    indexes, _ = _leaves_table(path)
    assert len(indexes) == 3  # its key's own B-tree is still there


def test_the_views_connection_holds_more_pages_and_checkpoints_less(tmp_path: Path) -> None:
    views = SQLiteViewStore(tmp_path / "store.views.sqlite3")
    try:
        conn = views._conn
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -32768
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10000
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, as before
        entry = IndexEntry("device:a", 1, "id", 1)
        views.commit("v", expected=0, position=1, docs=[], index=[entry])
        assert views.index("device:a") == [entry]
    finally:
        views.close()


def _writer_settings(app: Lonewatch) -> tuple[int, int, int, int]:
    """(checkpoint pages, synchronous, spill threshold, cache size) of the pool's connection:
    one connection so far (one thread), the one that wrote."""
    with app.recorder.datastore.transaction(commit=False) as cur:
        values = []
        for pragma in ("wal_autocheckpoint", "synchronous", "cache_spill", "cache_size"):
            cur.execute(f"PRAGMA {pragma}")
            values.append(cur.fetchone()[0])
    return values[0], values[1], values[2], values[3]


def test_the_event_stores_writes_checkpoint_less_often_and_stay_fully_synchronous(
    tmp_path: Path,
) -> None:
    """A group of device messages and its leaves leave their connection checkpointing every
    10,000 pages of WAL (not 1,000), with SQLite's synchronous FULL (2) untouched. The group
    spills no dirty page before 2,000 are held (not ~500, the default cache's); the leaves
    spill at the default again (sqlite13: their rounds held more, on several threads)."""
    app = Lonewatch(eventsourcing_env(f"sqlite:///{tmp_path / 'store.sqlite3'}"), FakeClock())
    try:
        log = MerkleLog(app.recorder)
        ids = [uuid.uuid4() for _ in range(3)]
        rows = [SealedRow(i, 1, "alert:Raised", bytes([n])) for n, i in enumerate(ids)]
        assert insert_events(app.recorder, rows, repeatable=set(ids)) == [1, 2, 3]
        after_group = _writer_settings(app)
        assert log.append_new().leaves == 3
        after_leaves = _writer_settings(app)
    finally:
        app.close()
    # 0 would be spilling turned off, with no bound; -2000 KiB is SQLite's default cache.
    assert after_group == (10000, 2, SPILL_PAGES, -2000)
    assert SPILL_PAGES == 2000
    assert after_leaves == (10000, 2, DEFAULT_SPILL, -2000)


def test_a_write_larger_than_the_cache_holds_its_pages_and_gives_them_back_at_the_commit(
    tmp_path: Path,
) -> None:
    """A group that dirties more pages than the default cache holds them (SQLite's memory
    peaks above the default's ~2 MB instead of spilling them into the WAL), and only for the
    transaction: after the commit the connection's cache is back within its default size
    (sqlite13). SQLite's counters are the process's, read from the library Python uses."""
    found = ctypes.util.find_library("sqlite3")
    sqlite = ctypes.CDLL(found) if found else None
    if sqlite is not None:
        sqlite.sqlite3_libversion.restype = ctypes.c_char_p
    if sqlite is None or sqlite.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        message = "Python's sqlite3 is not the system's library: its counters are elsewhere"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and LW_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    memory_used, highwater = sqlite.sqlite3_memory_used, sqlite.sqlite3_memory_highwater
    memory_used.restype = highwater.restype = ctypes.c_int64
    app = Lonewatch(eventsourcing_env(f"sqlite:///{tmp_path / 'store.sqlite3'}"), FakeClock())
    try:
        ids = [uuid.uuid4() for _ in range(20_000)]
        state = bytes(150)
        rows = [SealedRow(i, 1, "device:Heartbeat", state) for i in ids]
        before = memory_used()
        highwater(1)  # from here
        positions = insert_events(app.recorder, rows, repeatable=set(ids))
        peak, after = highwater(0), memory_used()
    finally:
        app.close()
    assert positions == list(range(1, 20_001))
    assert peak - before > 4_000_000  # held, not spilled at ~2 MB
    assert after - before < 3_000_000  # given back: within the default cache
