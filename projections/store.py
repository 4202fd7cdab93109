"""Where the read models live: documents by (kind, id), an event index, and tracking.

One SQL text serves SQLite and PostgreSQL (only the placeholder differs). The
position a view has processed is moved in the same transaction as its writes,
and only from the position it was read at: a second writer, or a repeat after a
crash, cannot apply the same events twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from projections.copy_text import copy_docs, copy_index
from projections.doc_text import dumps
from projections.search import POSTGRES, SQLITE, Dialect, Search, search_sql


class ViewConflict(Exception):
    """Another writer moved this view's position first; read again and retry."""


class DocWrite(NamedTuple):
    kind: str
    id: str
    school: str | None
    state: str | None
    doc: dict[str, Any]


class IndexEntry(NamedTuple):
    """A tuple, so that a rebuild's million of them cost little and go to COPY as rows."""

    subject: str
    position: int
    originator_id: str
    originator_version: int


_AN_ENTRY = partial(tuple.__new__, IndexEntry)
"""A row `(subject, position, originator_id, originator_version)` as an `IndexEntry`,
without the named tuple's `__new__` (a Python call)."""


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lw_view_docs ("
    " kind TEXT NOT NULL, id TEXT NOT NULL, school TEXT, state TEXT, doc TEXT NOT NULL,"
    " PRIMARY KEY (kind, id))",
    "CREATE INDEX IF NOT EXISTS lw_view_docs_school ON lw_view_docs (kind, school, state)",
    "CREATE TABLE IF NOT EXISTS lw_view_index ("
    " subject TEXT NOT NULL, position BIGINT NOT NULL, originator_id TEXT NOT NULL,"
    " originator_version BIGINT NOT NULL, PRIMARY KEY (subject, position))",
    "CREATE TABLE IF NOT EXISTS lw_view_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)
_POSTGRES_SCHEMA = (
    _SCHEMA[0] + " WITH (fillfactor = 50)",
    _SCHEMA[1],
    _SCHEMA[2].replace("subject TEXT NOT NULL", 'subject TEXT COLLATE "C" NOT NULL'),
    _SCHEMA[3],
    # A store made before the documents' fillfactor: set for the pages written from now on
    # (a change of the table's options only, no rewrite; skipped once it is set).
    "DO $$ BEGIN IF NOT 'fillfactor=50' = ANY(COALESCE((SELECT reloptions FROM pg_class"
    " WHERE oid = 'lw_view_docs'::regclass), '{}')) THEN"
    " ALTER TABLE lw_view_docs SET (fillfactor = 50); END IF; END $$",
)
"""On PostgreSQL, two choices of the tables' storage, the same rows and answers (ingest pg10):
- Documents are rewritten every batch (a device's on each of its heartbeats) and their keys
  never change, so each update could be HOT (no new index entries) if its page had room:
  at the default fillfactor (100) the pages were full and ~3 in 4 updates were not, each
  adding an entry to both indexes and a bottom-up deletion pass later. Half of each page is
  left free for the next versions.
- The index's `subject` compares byte by byte (`COLLATE "C"`): in a database whose collation
  is not C (`C.UTF-8` here, any ICU or glibc locale) every comparison in the key's B-tree
  went through `strcoll`, two rows a heartbeat. Only equality on `subject` is asked
  (`ORDER BY position`), and equality is the same in every deterministic collation. A store
  made before keeps its column (`ALTER TABLE lw_view_index ALTER COLUMN subject TYPE text
  COLLATE "C"` rewrites it, if wanted)."""
_UPSERT_DOC = (
    "INSERT INTO lw_view_docs (kind, id, school, state, doc) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (kind, id) DO UPDATE SET school = excluded.school, state = excluded.state, "
    "doc = excluded.doc"
)
_INSERT_INDEX = (
    "INSERT INTO lw_view_index (subject, position, originator_id, originator_version) "
    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: Any, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: Any, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class ViewStore:
    """The views' database. Use `open_view_store(url)` to get one."""

    placeholder = "?"
    dialect: Dialect = SQLITE

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A cursor for one read statement; a store may skip the transaction block (one
        round trip instead of three: BEGIN, SELECT, COMMIT)."""
        with self._transaction() as cur:
            yield cur

    @contextmanager
    def held(self) -> Iterator[None]:
        """Within it, this thread's reads share one connection: a page that reads the index,
        a few directory documents and staff names takes one from the pool (tested with a
        round trip of its own as it is taken) instead of one a read. Hold it only where the
        thread does not wait for another's work: the pool is small. A store with a single
        connection has nothing to hold."""
        yield

    def close(self) -> None:
        raise NotImplementedError

    _schema: tuple[str, ...] = _SCHEMA

    def _create(self) -> None:
        with self._transaction() as cur:
            for statement in self._schema:
                cur.execute(statement)

    # -- reads ----------------------------------------------------------

    def position(self, name: str) -> int:
        with self._reading() as cur:
            cur.execute(self._sql("SELECT position FROM lw_view_tracking WHERE name = ?"), (name,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        with self._reading() as cur:
            cur.execute(
                self._sql("SELECT doc FROM lw_view_docs WHERE kind = ? AND id = ?"), (kind, doc_id)
            )
            row = cur.fetchone()
        return json.loads(row[0]) if row else None

    def find(
        self,
        kind: str,
        *,
        schools: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Documents of a kind; `schools=None` means every school."""
        sql = "SELECT doc FROM lw_view_docs WHERE kind = ?"
        params: list[Any] = [kind]
        for column, values in (("school", schools), ("state", states)):
            if values is not None:
                if not values:
                    return []
                sql += f" AND {column} IN ({', '.join('?' for _ in values)})"
                params.extend(values)
        sql += " LIMIT ?"
        params.append(limit)
        with self._reading() as cur:
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
        return [json.loads(row[0]) for row in rows]

    def counts(self, kind: str) -> dict[str, int]:
        """How many documents of a kind are in each state (for /metrics)."""
        with self._reading() as cur:
            cur.execute(
                self._sql("SELECT state, COUNT(*) FROM lw_view_docs WHERE kind = ? GROUP BY state"),
                (kind,),
            )
            rows = cur.fetchall()
        return {str(state): int(count) for state, count in rows if state is not None}

    def search(self, search: Search) -> tuple[list[dict[str, Any]], bool]:
        """One page of a filtered search (projections/search.py), and whether more follow."""
        found = search_sql(search, self.dialect)
        if found is None:
            return [], False
        sql, params = found
        with self._reading() as cur:
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
        docs = [json.loads(row[0]) for row in rows]
        return docs[: search.limit], len(docs) > search.limit

    def with_id_prefix(self, kind: str, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
        """Documents whose id starts with `prefix`: an alert's short code is its id's first six
        hex digits, so this is how a code a person reads out finds its alert."""
        with self._reading() as cur:
            cur.execute(
                self._sql("SELECT doc FROM lw_view_docs WHERE kind = ? AND id LIKE ? LIMIT ?"),
                (kind, prefix.replace("%", "").replace("_", "") + "%", limit),
            )
            rows = cur.fetchall()
        return [json.loads(row[0]) for row in rows]

    def index(self, subject: str) -> list[IndexEntry]:
        """The subject's entries in recorded order. Each row is made an entry in C (the
        subject, equal to every row's, put before it; the columns' types are the entry's:
        BIGINT and TEXT): a Python step a row was ~5 ms of a 10,000-event record's page."""
        with self._reading() as cur:
            cur.execute(
                self._sql(
                    "SELECT position, originator_id, originator_version "
                    "FROM lw_view_index WHERE subject = ? ORDER BY position"
                ),
                (subject,),
            )
            rows = cur.fetchall()
        return list(map(_AN_ENTRY, map((subject,).__add__, map(tuple, rows))))

    # -- writes ---------------------------------------------------------

    def commit(
        self,
        name: str,
        *,
        expected: int,
        position: int,
        docs: Sequence[DocWrite],
        index: Sequence[IndexEntry],
    ) -> None:
        """Apply a batch and move the view from `expected` to `position`, atomically."""
        with self._transaction() as cur:
            if expected == 0:
                cur.execute(
                    self._sql(
                        "INSERT INTO lw_view_tracking (name, position) VALUES (?, 0) "
                        "ON CONFLICT (name) DO NOTHING"
                    ),
                    (name,),
                )
            cur.execute(
                self._sql(
                    "UPDATE lw_view_tracking SET position = ? WHERE name = ? AND position = ?"
                ),
                (position, name, expected),
            )
            if cur.rowcount != 1:
                raise ViewConflict(f"view {name!r} is no longer at position {expected}")
            if docs:
                self._write_docs(
                    cur, [(d.kind, d.id, d.school, d.state, dumps(d.doc)) for d in docs]
                )
            if index:
                self._write_index(cur, list(dict.fromkeys(index)))

    def _write_docs(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
        cur.executemany(self._sql(_UPSERT_DOC), rows)

    def _write_index(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
        cur.executemany(self._sql(_INSERT_INDEX), rows)

    def reset(self, name: str) -> None:
        """Forget everything, so the views are rebuilt from the event store."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM lw_view_docs")
            cur.execute("DELETE FROM lw_view_index")
            cur.execute(self._sql("DELETE FROM lw_view_tracking WHERE name = ?"), (name,))


_SQLITE_WRITER_PRAGMAS = ("PRAGMA cache_size=-32768", "PRAGMA wal_autocheckpoint=10000")
"""How the views' one connection holds and hands back its pages (neither is durability:
journal_mode and synchronous are above). A batch dirties one page per subject and
document it touches, ~2,000 under a flood of 1,000 devices, in SQLite's default cache
of 2 MiB (~500 pages): the batch spilled dirty pages mid-transaction and read them back,
and every commit (~1,000 pages of WAL, the default) ran a checkpoint, copying the same
hot pages (each subject's last leaf) into the database file commit after commit. 32 MiB
of cache, grown only as pages are used, and a checkpoint every 10,000 pages (a WAL of
up to ~40 MB, its file kept at that size and reused from the start) write each hot page
to the file once per several batches (sqlite10: the index insert 35 -> 18 CPU-us an event
over 300,000 events)."""


class SQLiteViewStore(ViewStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        for pragma in _SQLITE_WRITER_PRAGMAS:
            self._conn.execute(pragma)
        self._lock = threading.Lock()
        self._create()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class PostgresViewStore(ViewStore):
    placeholder = "%s"
    dialect = POSTGRES
    _schema = _POSTGRES_SCHEMA

    def __init__(self, url: str) -> None:
        from psycopg_pool import ConnectionPool

        # Autocommit: a read is one statement and one round trip; writes open their own
        # transaction block (conn.transaction()). After the database restarts, a pooled
        # connection is tested as it is taken (`check`), a lost one is retried for 2 s
        # in the background and then on the next call (not for psycopg_pool's default 5
        # minutes, doubling from 1 s), and a caller waits at most 2 s for a connection:
        # the views' readers (scheduler, live views) are back within a second or two.
        #
        # Views are disposable and their position moves in the same transaction as their
        # writes: a crash may lose the last few view commits (never half of one), and
        # they are applied again from the event store on restart. So the view's
        # connections (this pool's only) do not wait for the WAL flush; the event
        # store's still do. Set once per connection, with the documents' staging table
        # (`_configure`), rather than in every commit: two round trips fewer each.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            open=True,
            timeout=2,
            reconnect_timeout=2,
            check=ConnectionPool.check_connection,
            configure=_configure,
            kwargs={
                "autocommit": True,
                "connect_timeout": 3,
                "application_name": "lonewatch-views",
            },
        )
        self._held = threading.local()  # `held`: this thread's connection, while held
        self._create()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self._pool.connection() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        conn = getattr(self._held, "conn", None)
        if conn is not None:
            with conn.cursor() as cur:
                yield cur
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    # COPY is one stream instead of a statement per row: a rebuild writes a million.
    # The index has no conflicts to skip (a batch is applied once, guarded by the
    # tracking row, and its rows are made unique above); documents go through a
    # staging table so that they can still be upserted. The rows are sent as one text
    # in COPY's own format (projections/copy_text.py).

    def _write_docs(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
        if len(rows) < 20:
            super()._write_docs(cur, rows)
            return
        with cur.copy(  # type: ignore[attr-defined]
            "COPY lw_view_docs_stage (kind, id, school, state, doc) FROM STDIN"
        ) as copy:
            copy.write(copy_docs(rows))
        cur.execute(
            "INSERT INTO lw_view_docs (kind, id, school, state, doc) "
            "SELECT kind, id, school, state, doc FROM lw_view_docs_stage "
            "ON CONFLICT (kind, id) DO UPDATE SET school = excluded.school, "
            "state = excluded.state, doc = excluded.doc"
        )

    def _write_index(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
        if len(rows) < 20:
            super()._write_index(cur, rows)
            return
        with cur.copy(  # type: ignore[attr-defined]
            "COPY lw_view_index (subject, position, originator_id, originator_version) FROM STDIN"
        ) as copy:
            copy.write(copy_index(sorted(rows, key=_SUBJECT)))

    def close(self) -> None:
        self._pool.close()


_SUBJECT = itemgetter(0)
"""Index rows are sent grouped by subject (a stable sort), so the key's B-tree takes a
subject's rows one after another on one leaf page: server CPU a row under a flood's
rounds 3.2-3.4 -> 2.1-2.2 µs, for ~0.3 µs of sorting (docs/performance.md, ingest13)."""


def _configure(conn: Any) -> None:
    """Each view connection, as it is made: no wait for the WAL flush (see above), and the
    staging table for documents' COPY (a temporary table lives as long as its session)."""
    conn.execute("SET synchronous_commit = off")
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS lw_view_docs_stage "
        "(kind TEXT, id TEXT, school TEXT, state TEXT, doc TEXT) ON COMMIT DELETE ROWS"
    )


def open_view_store(url: str) -> ViewStore:
    if url.startswith("sqlite:///"):
        return SQLiteViewStore(Path(url.removeprefix("sqlite:///")))
    return PostgresViewStore(url)
