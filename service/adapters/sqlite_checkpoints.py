"""How often the SQLite event store's file takes back its write-ahead log: set by the
connections that write its hot tables (the events' group insert, the Merkle leaves).

SQLite checkpoints, by default, whenever a commit leaves more than 1,000 pages in the WAL.
A group of ~330 heartbeats dirties ~330 pages of the events' key index (random stream ids)
and the leaves' stream index as many, so nearly every other commit ran a checkpoint: the
same hot pages copied into the database file and the file fsynced, commit after commit.
At 10,000 pages (a WAL of up to ~40 MB, its file kept at that size and reused from the
start) each hot page goes to the file once per several groups. Durability is untouched:
journal_mode (the library's WAL) and synchronous (SQLite's FULL: each commit's WAL
fsynced) stay as they were; a checkpoint only copies what is durable already.

The library offers no setting for it, and it is a connection's, not the file's: it is set
in each write transaction of ours (a PRAGMA that only stores a number, ~1 µs a group), so
whichever pooled connection the write is given holds it. The page cache is left at the
default (sqlite10's 16 MiB a pooled connection was taken out: memory on small machines).
"""

from __future__ import annotations

from typing import Any

CHECKPOINT_PAGES = 10_000
_PRAGMA = f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}"


def checkpoint_less_often(raw_cursor: Any) -> None:
    """Give the connection behind this `sqlite3` cursor the store's checkpoint interval."""
    raw_cursor.execute(_PRAGMA)
