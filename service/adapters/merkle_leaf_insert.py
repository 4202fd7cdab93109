"""Writing a page of the Merkle log's leaf rows: one statement for the whole page.

On PostgreSQL the columns go as packed binary arrays into `INSERT … SELECT FROM unnest`
(executemany is a prepared INSERT per row, pipelined: it was most of an append's cost
under a flood, and psycopg's list dumper works element by element); SQLite takes
`executemany`. A row another appender wrote first is skipped, and the caller is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.adapters.pg_arrays import Int8Array, PackedArray, TextArray

LeafRow = tuple[int, int, str, str, int]
"""(leaf index, notification id, leaf hash in hex, stream id in hex, version)."""

_INSERT_UNNEST = (
    "INSERT INTO lw_merkle_leaves (leaf_index, notification_id, leaf_hash, "
    "originator_id, originator_version) SELECT * FROM unnest("
    "%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::bigint[]) "
    "ON CONFLICT DO NOTHING"
)
_INSERT_ROWS = (
    "INSERT INTO lw_merkle_leaves (leaf_index, notification_id, leaf_hash, "
    "originator_id, originator_version) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


def insert_leaves(cur: Any, rows: Sequence[LeafRow], *, postgres: bool) -> bool:
    """Insert the rows in the caller's transaction; True when every one went in."""
    if postgres:
        cur.execute(_INSERT_UNNEST, _packed_columns(rows), prepare=True)
    else:
        cur.executemany(_INSERT_ROWS, rows)
    raw = getattr(cur, "sqlite_cursor", cur)  # eventsourcing's SQLite cursor wraps one
    return bool(raw.rowcount == len(rows))


def _packed_columns(rows: Sequence[LeafRow]) -> list[PackedArray]:
    """A page of leaf rows as five packed arrays (psycopg's list dumper is per element)."""
    # (Not `zip(*rows)`: a round's page is ~10,000 rows, each an argument.)
    return [
        Int8Array.of([row[0] for row in rows]),
        Int8Array.of([row[1] for row in rows]),
        TextArray.of([row[2] for row in rows]),
        TextArray.of([row[3] for row in rows]),
        Int8Array.of([row[4] for row in rows]),
    ]
