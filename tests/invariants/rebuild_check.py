"""Views rebuilt from the store equal the views the live catch-up built, byte for byte.

A rebuild (big batches, writes pipelined with projecting, events decoded by
projections/decoding.py) and the catch-up (the live path: `catch_up_once`, batch by
batch, events decoded by the library's mapper) are two ways to the same views; a view
that depended on the way, the batch boundaries or what the cache held would differ here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from projections.projector import Projector
from projections.store import ViewStore, open_view_store


def stored_views(views: ViewStore) -> dict[str, Any]:
    """Every document as stored (its JSON text, its filter columns), the index, the position."""
    with views._reading() as cur:
        cur.execute("SELECT kind, id, school, state, doc FROM lw_view_docs ORDER BY kind, id")
        docs = [tuple(r) for r in cur.fetchall()]
        cur.execute(
            "SELECT subject, position, originator_id, originator_version FROM lw_view_index "
            "ORDER BY subject, position"
        )
        index = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT name, position FROM lw_view_tracking ORDER BY name")
        tracking = [tuple(r) for r in cur.fetchall()]
    return {"docs": docs, "index": index, "tracking": tracking}


def rebuilt_and_caught_up(
    app: Any, batch: int, sizes: list[int], cache: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The views rebuilt (batches of `batch`, a cache of `cache` documents) and caught up
    (batches of `sizes`, in turn), each into a fresh view store of its own."""
    with tempfile.TemporaryDirectory(prefix="lw-rebuild-check-") as tmp:
        rebuilt_store = open_view_store(f"sqlite:///{Path(tmp) / 'rebuilt.sqlite3'}")
        caught_store = open_view_store(f"sqlite:///{Path(tmp) / 'caught.sqlite3'}")
        try:
            rebuilder = Projector(app.recorder, app.mapper, rebuilt_store, cache_size=cache)
            head = rebuilder.head()
            assert rebuilder.rebuild(batch_size=batch) == head
            follower = Projector(app.recorder, app.mapper, caught_store, cache_size=cache)
            turn = 0
            while follower.position() < head:
                follower.batch_size = sizes[turn % len(sizes)]
                follower.catch_up_once()
                turn += 1
            return stored_views(rebuilt_store), stored_views(caught_store)
        finally:
            rebuilt_store.close()
            caught_store.close()


def check_rebuild_equals_catch_up(
    app: Any, live: ViewStore, batch: int, sizes: list[int], cache: int
) -> None:
    rebuilt, caught_up = rebuilt_and_caught_up(app, batch, sizes, cache)
    assert rebuilt == caught_up
    as_live = stored_views(live)
    if as_live["tracking"] == rebuilt["tracking"]:  # the live views are at the same head
        assert rebuilt == as_live
