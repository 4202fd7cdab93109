"""How the SQLite event store's connections that write its hot tables (the events' group
insert, the Merkle leaves) hold and hand back their pages: set in each such transaction.

Checkpoints (sqlite11). SQLite checkpoints, by default, whenever a commit leaves more than
1,000 pages in the WAL. A group of ~500 heartbeats dirties ~500 pages of the events' key
index (random stream ids) and the leaves' stream index as many, so nearly every other
commit ran a checkpoint: the same hot pages copied into the database file and the file
fsynced, commit after commit. At 10,000 pages (a WAL of up to ~40 MB, its file kept at
that size and reused from the start) each hot page goes to the file once per several groups.

Spills (sqlite13). The page cache is SQLite's default (~500 pages, 2 MiB), and a group of
500 dirties more than that once the store holds ~100,000 events, and a Merkle round of a
second's leaves several times more: SQLite then spilled dirty pages into the WAL in the
middle of the transaction, wrote many of them again at the commit, and read back the ones
it evicted. Up to `SPILL_PAGES` dirty pages (~8 MB) are now held to the commit instead;
when the commit makes them clean, the cache gives back what is over its default size, so
SQLite keeps nothing more between transactions (sqlite10's larger cache on every pooled
connection was taken out for that memory); the allocator keeps the freed memory for the
next write (peak RSS +5 MB in a micro of both writers on their threads, +9 MB at 4,000
pages). A larger transaction still spills past it.

Durability is untouched: journal_mode (the library's WAL) and synchronous (SQLite's FULL:
each commit's WAL fsynced) stay as they were; a checkpoint only copies what is durable
already, and a spill's frames were never part of a commit. The library offers neither
setting, and both are a connection's, not the file's: each PRAGMA only stores a number
(~1 µs a group), so whichever pooled connection the write is given holds them.
"""

from __future__ import annotations

from typing import Any

CHECKPOINT_PAGES = 10_000
SPILL_PAGES = 2_000
"""~8 MB of dirty pages: a group of 500 fits in it on any store size (~1 page an event, plus
the table's and the interior pages); a Merkle round over a grown store spills past it, later
than before. 4,000 saved a further ~10% of the syscalls at 300,000 events for twice the
memory a write may hold (sqlite13). Not a multiple of 256: SQLite reads the PRAGMA's number
as a boolean too, by its lowest byte, and 0 there turns spilling off with no bound at all."""
_PRAGMAS = (
    f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}",
    f"PRAGMA cache_spill={SPILL_PAGES}",
)


def hold_pages_to_commit(raw_cursor: Any) -> None:
    """Give the connection behind this `sqlite3` cursor the store's writers' settings:
    a checkpoint every `CHECKPOINT_PAGES`, no spill below `SPILL_PAGES` dirty pages."""
    for pragma in _PRAGMAS:
        raw_cursor.execute(pragma)
