"""The Merkle log: one leaf per stored event, in notification order, and the signed heads.

Both tables live in the event store's own database (reached through its recorder's
connections), so a backup of the store carries them and a restore brings them back.

What a leaf holds is merkle_leaf_data.py's. The leaves are derived from the events alone:
any number of appenders (one per `lonewatch serve`) compute the same leaf for the same
place, so appending is idempotent. The appender follows the store off the SOS path
(service/workers/merkle_log.py); nothing here runs inside a save.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification

from service.adapters.event_rows import held_or_pooled
from service.adapters.merkle_leaf_data import handed_leaves
from service.adapters.merkle_leaf_insert import LeafRow, insert_leaves
from service.adapters.merkle_tree import Frontier, Levels
from service.adapters.pg_arrays import TextArray, execute_with_array
from service.adapters.signing import SignedHead, SigningKey

PAGE = 5_000
HANDED_MAX = 50_000
"""Events handed over and not yet appended, at most (a minute's worth is ~600 at rest,
~10,000/s under a flood for the worker's one-second rounds); past it they are let go and
the next round reads them from the store instead."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lw_merkle_leaves ("
    " leaf_index {key} PRIMARY KEY, notification_id BIGINT NOT NULL UNIQUE,"
    " leaf_hash TEXT NOT NULL, originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lw_merkle_leaves_stream ON lw_merkle_leaves {using}(originator_id)",
    "CREATE TABLE IF NOT EXISTS lw_merkle_heads ("
    " tree_size BIGINT NOT NULL, timestamp_ms BIGINT NOT NULL, root_hash TEXT NOT NULL,"
    " key_id TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL,"
    " PRIMARY KEY (tree_size, key_id))",
)
"""The leaves by stream are only ever asked for by equality (`originator_id = ANY(…)`): on
PostgreSQL a hash index, whose insert goes to its bucket's page instead of down a B-tree
comparing hex texts under the database's collation (a leaf's server CPU ~2 µs less of
~9, pg10). A store made before keeps its B-tree, which answers the same; to change it,
while no service runs: `DROP INDEX lw_merkle_leaves_stream; CREATE INDEX
lw_merkle_leaves_stream ON lw_merkle_leaves USING hash (originator_id)`.

On SQLite the leaf's index is the table's rowid: only the exact type name `INTEGER`
makes a primary key the rowid's alias, and under `BIGINT` the table kept a hidden rowid
and a second B-tree for the key, written on every leaf (same values and order either way:
both have integer affinity). A store made before keeps its two B-trees, which answer
the same. PostgreSQL keeps BIGINT (its INTEGER is 32 bits)."""


_LEAF_ROWS = (
    "SELECT originator_id, originator_version, notification_id, leaf_hash "
    "FROM lw_merkle_leaves WHERE originator_id = ANY(%s)"
)
"""A run of streams' leaves, their ids as hex (`stream_leaf_rows`)."""


class StreamLeaf(NamedTuple):
    notification_id: int
    hash: bytes


class StoredLeaf(NamedTuple):
    leaf_index: int
    notification_id: int
    hash: bytes


@dataclass(frozen=True)
class Appended:
    leaves: int
    size: int
    seconds: float


class MerkleLog:
    """The leaves and heads tables, over the recorder's own database connections."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._pg = type(recorder).__module__.startswith("eventsourcing.postgres")
        self._frontier = Frontier()
        self._last_notification = 0
        # The worker's thread and an export's (which catches up and signs first) share one
        # log: the right edge in memory is moved by one of them at a time.
        self._lock = threading.RLock()
        self._handed: list[Notification] = []
        self._handed_lock = threading.Lock()
        with self._transaction(commit=True) as cur:
            for statement in _SCHEMA:
                cur.execute(
                    statement.format(
                        using="USING hash " if self._pg else "",
                        key="BIGINT" if self._pg else "INTEGER",
                    )
                )

    # -- database -------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._pg else text

    def _transaction(self, *, commit: bool) -> Any:
        return self.recorder.datastore.transaction(commit=commit)

    def _rows(self, sql: str, params: Sequence[Any] = (), *, array: bool = False) -> list[Any]:
        """`array`: a parameter is an array of many values (never prepared, pg_arrays)."""
        with self._transaction(commit=False) as cur:
            if array and self._pg:
                execute_with_array(cur, self._sql(sql), params)
            else:
                cur.execute(self._sql(sql), params)
            return list(cur.fetchall())

    def leaves(self, start: int = 0, stop: int | None = None) -> Iterator[StoredLeaf]:
        """Stored leaves from index `start` up to (not including) `stop`, in pages."""
        while stop is None or start < stop:
            rows = self._rows(
                "SELECT leaf_index, notification_id, leaf_hash FROM lw_merkle_leaves "
                "WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?",
                (start, PAGE if stop is None else min(PAGE, stop - start)),
            )
            if not rows:
                return
            for row in rows:
                yield StoredLeaf(
                    int(row["leaf_index"]),
                    int(row["notification_id"]),
                    bytes.fromhex(row["leaf_hash"]),
                )
            start = int(rows[-1]["leaf_index"]) + 1

    def leaf_indexes(self, notification_ids: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        step = max(len(notification_ids), 1) if self._pg else 500  # one array on PostgreSQL
        for at in range(0, len(notification_ids), step):
            chunk = list(notification_ids[at : at + step])
            where = "= ANY(?)" if self._pg else f"IN ({', '.join('?' for _ in chunk)})"
            for row in self._rows(
                "SELECT notification_id, leaf_index FROM lw_merkle_leaves "  # noqa: S608
                f"WHERE notification_id {where}",
                [chunk] if self._pg else chunk,
                array=True,
            ):
                found[int(row["notification_id"])] = int(row["leaf_index"])
        return found

    def size(self, conn: Any = None) -> tuple[int, int]:
        """(number of leaves, notification id of the last one); on `conn`, one of the
        store's connections held for a run of reads (event_rows.one_connection), if given."""
        sql = "SELECT leaf_index, notification_id FROM lw_merkle_leaves ORDER BY leaf_index DESC LIMIT 1"
        if conn is not None and self._pg:
            from psycopg.rows import tuple_row

            with conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(sql)
                last = cur.fetchone()
            return (0, 0) if last is None else (int(last[0]) + 1, int(last[1]))
        rows = self._rows(sql)
        if not rows:
            return 0, 0
        return int(rows[0]["leaf_index"]) + 1, int(rows[0]["notification_id"])

    def heads(self) -> list[SignedHead]:
        """Every signed head, smallest tree first."""
        import base64

        rows = self._rows(
            "SELECT tree_size, timestamp_ms, root_hash, key_id, public_key, signature "
            "FROM lw_merkle_heads ORDER BY tree_size, timestamp_ms"
        )
        return [
            SignedHead(
                size=int(r["tree_size"]),
                root=bytes.fromhex(r["root_hash"]),
                timestamp_ms=int(r["timestamp_ms"]),
                key_id=str(r["key_id"]),
                public_key=base64.b64decode(r["public_key"]),
                signature=base64.b64decode(r["signature"]),
            )
            for r in rows
        ]

    def latest_head(self) -> SignedHead | None:
        heads = self.heads()
        return heads[-1] if heads else None

    def stream_leaves(self, originator_ids: Sequence[UUID]) -> dict[UUID, dict[int, StreamLeaf]]:
        """The leaves of these streams, by version: what the log says each stream held."""
        found: dict[UUID, dict[int, StreamLeaf]] = {}
        by_hex = {u.hex: u for u in originator_ids}
        wanted = list(by_hex)
        rows: list[tuple[str, int, int, str]] = []
        if self._pg and wanted:  # the whole list as one packed array: one round trip
            rows = self._pg_leaf_rows(wanted)
        elif not self._pg:  # a bounded number of parameters per statement
            for at in range(0, len(wanted), 500):
                chunk = wanted[at : at + 500]
                marks = ", ".join("?" for _ in chunk)
                rows += [
                    (
                        r["originator_id"],
                        r["originator_version"],
                        r["notification_id"],
                        r["leaf_hash"],
                    )
                    for r in self._rows(
                        "SELECT originator_id, originator_version, notification_id, leaf_hash "  # noqa: S608
                        f"FROM lw_merkle_leaves WHERE originator_id IN ({marks})",
                        chunk,
                    )
                ]
        for stream_hex, version, notification_id, hash_hex in rows:
            stream = by_hex.get(stream_hex) or UUID(stream_hex)
            found.setdefault(stream, {})[int(version)] = StreamLeaf(
                int(notification_id), bytes.fromhex(hash_hex)
            )
        return found

    def stream_leaf_rows(
        self, originator_ids: Sequence[UUID], conn: Any = None, *, hexes: Sequence[str] = ()
    ) -> list[tuple[str, int, int, str]]:
        """`stream_leaves` as plain rows (stream hex, version, notification id, leaf hash
        hex), the ids sent packed: a cold page as of an instant compares 5,000 streams'
        leaves and only words the few that differ through `stream_leaves`. On `conn`, a
        held store connection (as `size`), if given. `hexes`: the streams' ids as `.hex`
        spells them, in place of `originator_ids` (a record keyed by numbers makes them
        by `%`, in C; `UUID.hex` is a Python property)."""
        if not self._pg:
            return [
                (u.hex, version, leaf.notification_id, leaf.hash.hex())
                for u, leaves in self.stream_leaves(
                    originator_ids or [UUID(h) for h in hexes]
                ).items()
                for version, leaf in leaves.items()
            ]
        return self._pg_leaf_rows(list(hexes) or [u.hex for u in originator_ids], conn)

    @contextmanager
    def stream_leaf_rows_ahead(
        self, originator_ids: Sequence[UUID], conn: Any = None, *, hexes: Sequence[str] = ()
    ) -> Iterator[Callable[[], list[tuple[str, int, int, str]]]]:
        """`stream_leaf_rows`, asked for as the block is entered and read when the function
        it gives is called (within the block): on a held PostgreSQL connection the query is
        sent at once, alone in psycopg's pipeline mode, and the server looks the leaves up
        while the caller works on (a cold page as of an instant groups the rows it has just
        read meanwhile). Nothing else may use `conn` within the block. Elsewhere read at
        once. `hexes`: the ids' `.hex`, where the caller has them (a Python property call an
        id: ~1 ms for a page's 5,100)."""
        if not self._pg or conn is None:
            rows = self.stream_leaf_rows(originator_ids, conn)
            yield lambda: rows
            return
        from psycopg.rows import tuple_row

        with conn.pipeline(), conn.cursor(row_factory=tuple_row) as cur:
            execute_with_array(
                cur, _LEAF_ROWS, (TextArray.of(hexes or [u.hex for u in originator_ids]),)
            )
            yield lambda: list(cur.fetchall())

    def _pg_leaf_rows(self, hexes: list[str], held: Any = None) -> list[tuple[str, int, int, str]]:
        """The leaves of the streams with these hex ids, as the driver's tuples (no dict a
        row), on `held` if given, else on a connection taken from the pool for it (each
        taken is tested with a round trip of its own first)."""
        from psycopg.rows import tuple_row

        with held_or_pooled(self.recorder, held) as conn, conn.cursor(row_factory=tuple_row) as cur:
            execute_with_array(cur, _LEAF_ROWS, (TextArray.of(hexes),))
            return list(cur.fetchall())

    def _insert_leaves(self, rows: Sequence[LeafRow]) -> bool:
        """True when every row went in (no other appender wrote any of them first)."""
        with self._transaction(commit=True) as cur:
            return insert_leaves(cur, rows, postgres=self._pg)

    def _insert_head(self, head: SignedHead) -> None:
        row = head.to_json()
        with self._transaction(commit=True) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO lw_merkle_heads (tree_size, timestamp_ms, root_hash, key_id, "
                    "public_key, signature) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (
                    head.size,
                    head.timestamp_ms,
                    row["root_hash"],
                    head.key_id,
                    row["public_key"],
                    row["signature"],
                ),
            )

    # -- following the store --------------------------------------------

    def _sync(self) -> None:
        """Bring the in-memory right edge up to the stored leaves (another appender's too)."""
        size, _ = self.size()
        if size < self._frontier.size:  # the table was emptied: start again
            self._frontier, self._last_notification = Frontier(), 0
        for leaf in self.leaves(self._frontier.size, size):
            self._frontier.append(leaf.hash)
            self._last_notification = leaf.notification_id

    def hand_over(self, notifications: Sequence[Notification]) -> None:
        """Safe from any thread: events just committed in this process, with their positions
        and stored bytes. `append_handed` makes their leaves without reading them back."""
        with self._handed_lock:
            if len(self._handed) + len(notifications) > HANDED_MAX:
                self._handed.clear()
            else:
                self._handed.extend(notifications)

    def append_handed(self) -> Appended | None:
        """Append the leaves of the events handed over, when they continue exactly where the
        log ends (positions `last + 1, last + 2, ...`: nothing another writer committed can
        sit between). None when the log must read instead: nothing handed, a gap, or another
        appender got there first (its leaves are taken, the same ones)."""
        with self._handed_lock:
            handed, self._handed = self._handed, []
        if not handed:
            return None
        handed.sort(key=lambda n: n.id)
        with self._lock:
            started = time.perf_counter()
            expected = self._last_notification + 1
            run = [n for n in handed if n.id >= expected]
            if not run or any(n.id != expected + i for i, n in enumerate(run)):
                return None
            if not self._append_leaves(run):
                return None
            return Appended(len(run), self._frontier.size, time.perf_counter() - started)

    def append_new(self, limit: int = PAGE) -> Appended:
        """Append leaves for events stored since the last leaf: one page of them."""
        with self._lock:
            return self._append_new(limit)

    def _append_new(self, limit: int) -> Appended:
        started = time.perf_counter()
        self._sync()
        notifications = self.recorder.select_notifications(
            start=self._last_notification + 1, limit=limit
        )
        if notifications:
            self._append_leaves(notifications)
        return Appended(len(notifications), self._frontier.size, time.perf_counter() - started)

    def _append_leaves(self, notifications: Sequence[Notification]) -> bool:
        """Store and add the leaves of `notifications`, which continue the log from its end
        (`append_handed`'s run, `append_new`'s page): False when another appender stored
        leaves there first (the log is read again: its leaves are the same ones)."""
        size = self._frontier.size
        leaves = handed_leaves(notifications)
        rows = [
            (size + offset, int(n.id), digest.hex(), stream, int(n.originator_version))
            for offset, (n, (digest, stream)) in enumerate(zip(notifications, leaves, strict=True))
        ]
        if not self._insert_leaves(rows):
            self._sync()
            return False
        self._frontier.extend([digest for digest, _ in leaves])
        self._last_notification = rows[-1][1]
        return True

    def catch_up(self) -> int:
        """Append until every stored event has its leaf; the tree's size."""
        while self.append_new().leaves:
            pass
        return self._frontier.size

    def sign(self, key: SigningKey, timestamp_ms: int) -> SignedHead | None:
        """Sign a head over the leaves appended so far, unless the last head already covers them."""
        with self._lock:
            self._sync()
            latest = self.latest_head()
            if self._frontier.size == 0 or (latest and latest.size >= self._frontier.size):
                return None
            head = key.sign(self._frontier.size, self._frontier.root(), timestamp_ms)
            self._insert_head(head)
            return head

    def levels(self, size: int) -> Levels:
        """Every node of the tree of the first `size` leaves (for proofs)."""
        return Levels.build([leaf.hash for leaf in self.leaves(0, size)])
