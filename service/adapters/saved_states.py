"""Saved states of long records kept in the database (`lw_saved_states`), so that the first
page as of an instant after a restart starts from the record's last whole check instead of
projecting from the start (service/records/record_cache.py, instant_page.py).

A row is one subject's last saved check as bytes (service/records/saved_states.py says
what they hold) and an HMAC over them keyed by the service's own secret (the signing or
cipher key): a row someone wrote into the table without the key is not read, as if there
were none. An authentic row is still never trusted: the reader uses it only over events
found, read now, to be the very ones it was made from (instant_page.py `_kept`).

Off the alarm path: every call opens its own connection (PostgreSQL) or its own file (a
SQLite sibling of the store, `<store>.saved.sqlite3`), never the store's pool, the intake's
threads or the store's write lock; a row is written by the background whole check
(service/records/whole_checks.py) and read by a page that finds no saved state in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Final, Protocol

KEPT: Final = 256
"""Subjects kept (the least recently saved go first): ~0.5 MB each for 10,000 events."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS lw_saved_states ("
    " subject TEXT PRIMARY KEY, saved_at DOUBLE PRECISION NOT NULL,"
    " body {blob} NOT NULL, mac {blob} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lw_saved_states_saved_at ON lw_saved_states (saved_at)",
)
_SAVE: Final = (
    "INSERT INTO lw_saved_states (subject, saved_at, body, mac) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (subject) DO UPDATE SET saved_at = excluded.saved_at,"
    " body = excluded.body, mac = excluded.mac"
)
_PRUNE: Final = (
    "DELETE FROM lw_saved_states WHERE saved_at < (SELECT saved_at FROM lw_saved_states"
    " ORDER BY saved_at DESC LIMIT 1 OFFSET ?)"
)
_LOAD: Final = "SELECT body, mac FROM lw_saved_states WHERE subject = ?"
_REMOVE: Final = "DELETE FROM lw_saved_states WHERE subject = ?"


class SavedStates(Protocol):
    """The port: one authenticated blob per subject, the last saved."""

    def save(self, subject: str, body: bytes, saved_at: float) -> None: ...

    def load(self, subject: str) -> bytes | None:
        """The subject's body if one is stored and its MAC is ours (None otherwise)."""
        ...

    def remove(self, subject: str) -> None: ...


class SavedStateRows:
    """`lw_saved_states` in PostgreSQL or in a SQLite file of its own (see the module)."""

    def __init__(self, database_url: str, secret: str) -> None:
        self._key = hashlib.sha256(b"lonewatch saved states v1\x00" + secret.encode()).digest()
        self._pg = database_url.startswith(("postgresql://", "postgres://"))
        self._url = database_url
        if not self._pg:
            store = Path(database_url.removeprefix("sqlite:///"))
            self._path = store.with_name(store.stem + ".saved" + store.suffix)
        blob = "BYTEA" if self._pg else "BLOB"
        for statement in _SCHEMA:
            self._run(statement.format(blob=blob), ())

    def _mac(self, subject: str, body: bytes) -> bytes:
        return hmac.new(self._key, subject.encode() + b"\x00" + body, hashlib.sha256).digest()

    def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        if self._pg:
            import psycopg

            with psycopg.connect(self._url, autocommit=True, connect_timeout=3) as pg:
                # Binary results: a body of ~0.9 MB (10,000 events) sent as bytes, not as
                # hex text the server writes and the driver parses (4.4-5.1 -> 0.6-0.7 ms of
                # wall, 1.5 -> 0.3 of CPU; docs/performance.md, asof5).
                cur = pg.execute(sql.replace("?", "%s"), params, binary=True)  # type: ignore[arg-type]
                return list(cur.fetchall()) if cur.description else []
        with closing(sqlite3.connect(self._path, timeout=5)) as lite, lite:
            return list(lite.execute(sql, params).fetchall())

    def save(self, subject: str, body: bytes, saved_at: float) -> None:
        self._run(_SAVE, (subject, saved_at, body, self._mac(subject, body)))
        self._run(_PRUNE, (KEPT - 1,))

    def load(self, subject: str) -> bytes | None:
        rows = self._run(_LOAD, (subject,))
        if not rows:
            return None
        body, mac = bytes(rows[0][0]), bytes(rows[0][1])
        return body if hmac.compare_digest(mac, self._mac(subject, body)) else None

    def remove(self, subject: str) -> None:
        self._run(_REMOVE, (subject,))


def open_saved_states(database_url: str, secret: str | None) -> SavedStateRows | None:
    """None without a secret to authenticate the rows with: saved states stay in memory."""
    if not secret:
        return None
    return SavedStateRows(database_url, secret)
