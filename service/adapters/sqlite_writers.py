"""How the SQLite event store's connections that write its hot tables (the events' group
insert, the Merkle leaves) hold and hand back their pages: set in each such transaction.

Checkpoints (sqlite11), both writes. SQLite checkpoints, by default, whenever a commit
leaves more than 1,000 pages in the WAL. A group of ~500 heartbeats dirties ~500 pages of
the events' key index (random stream ids) and the leaves' stream index as many, so nearly
every other commit ran a checkpoint: the same hot pages copied into the database file and
the file fsynced, commit after commit. At 10,000 pages (a WAL of up to ~40 MB, its file
kept at that size and reused from the start) each hot page goes to the file once per
several groups.

Spills (sqlite13), the events' group only. The page cache is SQLite's default (~500 pages,
2 MiB), and a group of 500 dirties more than that once the store holds ~100,000 events:
SQLite then spilled dirty pages into the WAL in the middle of the transaction, wrote many
of them again at the commit, and read back the ones it evicted. Up to `SPILL_PAGES` dirty
pages (~8 MB) are now held to the commit instead; when the commit makes them clean, the
cache gives back what is over its default size, so SQLite keeps nothing more between
transactions (sqlite10's larger cache on every pooled connection was taken out for that
memory). A Merkle round's leaves would gain as much again (its round ~1 CPU-µs a heartbeat
less), but its rounds run on the thread pool's threads and hold more pages, and the
service's peak RSS rose by ~12 to 25 MB with it: they spill at the default, as before.

Durability is untouched: journal_mode (the library's WAL) and synchronous (SQLite's FULL:
each commit's WAL fsynced) stay as they were; a checkpoint only copies what is durable
already, and a spill's frames were never part of a commit. The library offers neither
setting, and both are a connection's, not the file's: each PRAGMA only stores a number
(~1 µs a write), so whichever pooled connection the write is given holds them until the
next write on it sets them again.
"""

from __future__ import annotations

from typing import Any

CHECKPOINT_PAGES = 10_000
SPILL_PAGES = 2_000
"""~8 MB of dirty pages: a group of 500 fits in it on any store size (~1 page an event, plus
the table's and the interior pages). Not a multiple of 256: SQLite reads the PRAGMA's
number as a boolean too, by its lowest byte, and 0 there turns spilling off with no bound."""
_CHECKPOINT = f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}"
_HOLD = f"PRAGMA cache_spill={SPILL_PAGES}"
_SPILL_AT_CACHE_SIZE = "PRAGMA cache_spill=1"
"""SQLite's own default (spill once the cache is full), back on a pooled connection that a
group was given before."""


def set_for_writing(raw_cursor: Any, *, hold_pages: bool) -> None:
    """Give the connection behind this `sqlite3` cursor the store's writers' settings: a
    checkpoint every `CHECKPOINT_PAGES`, and with `hold_pages` no spill below `SPILL_PAGES`
    dirty pages (the events' group), without it SQLite's default (the leaves)."""
    raw_cursor.execute(_CHECKPOINT)
    raw_cursor.execute(_HOLD if hold_pages else _SPILL_AT_CACHE_SIZE)
