"""A page's reads of the views share one connection while it is held (projections/store.py
`ViewStore.held`): a cold page as of an instant read the index, the directory's documents
and staff names each through a connection of its own from the pool, each tested with a
round trip as it was taken (docs/performance.md, asof8). Held, they must answer exactly
what they answer unheld, on this thread only, and give the connection back after.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from projections.store import DocWrite, IndexEntry, PostgresViewStore, ViewStore, open_view_store

ENTRIES = [
    IndexEntry("device:d-1", 3, "5d1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b11", 1),
    IndexEntry("device:d-2", 4, "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00", 1),
    IndexEntry("device:d-1", 7, "aa1c0a52-54a4-4bfa-9d1e-0a6f1d8c2b11", 2),
]


def _filled(url: str) -> ViewStore:
    views = open_view_store(url)
    views.commit(
        "views",
        expected=0,
        position=7,
        docs=[
            DocWrite("staff", "st-1", "s-1", None, {"name": "Ann"}),
            DocWrite("school", "s-1", "s-1", None, {"battery_low": 20}),
        ],
        index=ENTRIES,
    )
    return views


def _reads(views: ViewStore) -> list[Any]:
    return [
        views.index("device:d-1"),
        views.get("staff", "st-1"),
        views.get("school", "s-1"),
        views.get("staff", "nobody"),
        views.position("views"),
    ]


def _taken(views: PostgresViewStore) -> int:
    """How many connections the pool has handed out so far."""
    return int(views._pool.get_stats().get("requests_num", 0))


def test_reads_held_answer_as_unheld(database_url: str) -> None:
    views = _filled(database_url)
    try:
        unheld = _reads(views)
        with views.held():
            held = _reads(views)
            with views.held():  # nested: the same connection, still held after
                nested = _reads(views)
            after_nested = _reads(views)
        assert held == unheld == nested == after_nested
        entries = unheld[0]
        assert entries == [e for e in ENTRIES if e.subject == "device:d-1"]
        assert all(type(e) is IndexEntry for e in entries)
        assert [(type(e.position), type(e.originator_id)) for e in entries] == [(int, str)] * 2
    finally:
        views.close()


def test_reads_held_take_one_connection_from_the_pool(postgres_url: str) -> None:
    views = _filled(postgres_url)
    assert isinstance(views, PostgresViewStore)
    try:
        start = _taken(views)
        with views.held():
            _reads(views)
            _reads(views)
        assert _taken(views) == start + 1
        _reads(views)  # given back: each read takes its own again
        assert _taken(views) == start + 1 + 5
    finally:
        views.close()


def test_another_thread_does_not_read_through_a_held_connection(postgres_url: str) -> None:
    views = _filled(postgres_url)
    assert isinstance(views, PostgresViewStore)
    found: list[Any] = []
    try:
        with views.held():
            start = _taken(views)
            other = threading.Thread(target=lambda: found.append(_reads(views)))
            other.start()
            other.join()
            assert _taken(views) == start + 5
            assert found == [_reads(views)]
            assert _taken(views) == start + 5
    finally:
        views.close()


def test_a_write_while_held_is_its_own_transaction(postgres_url: str) -> None:
    views = _filled(postgres_url)
    try:
        with views.held():
            views.commit(
                "views",
                expected=7,
                position=9,
                docs=[DocWrite("staff", "st-2", "s-1", None, {"name": "Bo"})],
                index=[],
            )
            assert views.get("staff", "st-2") == {"name": "Bo"}
        assert views.position("views") == 9
        with pytest.raises(Exception, match="no longer at position"), views.held():
            views.commit("views", expected=7, position=10, docs=[], index=[])
        assert _reads(views)[4] == 9
    finally:
        views.close()
