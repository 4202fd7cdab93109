"""Turning LW_DATABASE_URL into the eventsourcing library's settings."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from service.config import ConfigError


def eventsourcing_env(database_url: str, cipher_key: str | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(path),
            SQLITE_LOCK_TIMEOUT="10",
        )
    elif database_url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(database_url)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=parts.path.lstrip("/") or "lonewatch",
            POSTGRES_HOST=parts.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
            POSTGRES_POOL_SIZE="4",
            POSTGRES_MAX_OVERFLOW="4",
            # The wait for a pooled connection (not the TCP connect). The library retries
            # a failed call 10 times, so this bounds a call to ~10 x 2 s while the database
            # is down, and a call waiting when it comes back gets a connection at once.
            POSTGRES_CONNECT_TIMEOUT="2",
            # A connection is tested as it leaves the pool: after a restart, the ones
            # the server dropped are replaced there, not failed on a caller's write.
            POSTGRES_PRE_PING="y",
            # A session stuck in a transaction (its client gone) releases its locks soon:
            # every insert takes the events table's lock.
            POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="5",
        )
    else:
        raise ConfigError(
            "LW_DATABASE_URL must be sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB, "
            f"got {database_url!r}"
        )
    if cipher_key:
        _check_cipher_key(cipher_key)
        env.update(CIPHER_TOPIC="eventsourcing.cipher:AESCipher", CIPHER_KEY=cipher_key)
    return env


def _check_cipher_key(key: str) -> None:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) not in (16, 24, 32):
        raise ConfigError(
            "LW_CIPHER_KEY must be base64 of a 16, 24 or 32 byte AES key; make one with: "
            "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
        )


RECONNECT_GIVE_UP = 2.0
"""Seconds a pool keeps retrying one lost connection in the background before it leaves
the next one to the next caller. psycopg_pool's default is 5 minutes of retries that
double from 1 s: after a 20 s outage, its next try came ~11 s after the database was back."""
CONNECT_TIMEOUT = 3
"""libpq's own connect timeout, for a database that does not answer at all (a host gone,
packets dropped): without it a connect waits for the kernel, minutes."""
RECONNECT_EVERY = 0.1
"""Seconds between a pool's tries to replace a lost connection, not doubling. psycopg_pool
waits 1 s, then 2 s: a caller waiting for a connection when the database came back waited
for the next try, and the scheduler's first round after a restart came up to 1.8 s after
the database was back (issue 10 asks for one interval, 1 s). A try against a database
that is down is refused at once; ten a second for RECONNECT_GIVE_UP seconds is nothing."""


def quick_recovery(recorder: object) -> None:
    """Make the event store's PostgreSQL pool come back within seconds of the database.

    The library builds the pool and offers no setting for these; they are plain
    attributes of psycopg_pool's pool, read at each reconnection. The wait between tries
    has no setting even in psycopg_pool: it is a class attribute of its backoff, so it is
    set for every pool of the process (the views' pool too, which is what we want)."""
    quick_reconnects()
    datastore = getattr(recorder, "datastore", None)
    pool = getattr(datastore, "pool", None)
    if pool is None or not hasattr(pool, "reconnect_timeout"):
        return  # SQLite: nothing to reconnect
    pool.reconnect_timeout = RECONNECT_GIVE_UP
    if isinstance(pool.kwargs, dict):
        pool.kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)


def quick_reconnects() -> None:
    """Every psycopg_pool pool in this process tries a lost connection again every
    RECONNECT_EVERY seconds (psycopg_pool 3.x: `AttemptWithBackoff`, read per attempt)."""
    try:
        from psycopg_pool.base import AttemptWithBackoff
    except ImportError:  # no PostgreSQL driver installed: SQLite only
        return
    AttemptWithBackoff.INITIAL_DELAY = RECONNECT_EVERY
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


T = TypeVar("T")


def with_startup_retries(open_store: Callable[[], T], attempts: int = 5) -> T:
    """Open a store whose tables may be being created by another process right now.

    PostgreSQL refuses concurrent DDL on the same objects ("tuple concurrently
    updated", duplicate type names); a second try after the other side commits works.
    """
    for attempt in range(1, attempts + 1):
        try:
            return open_store()
        except Exception as exc:  # the drivers' errors differ; anything else re-raises below
            racing = "concurrently" in str(exc) or "duplicate key" in str(exc)
            if attempt == attempts or not racing:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def views_location(database_url: str) -> str:
    """Views live beside the events: a sibling SQLite file, or the same PostgreSQL database."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '.views' + path.suffix)}"
    return database_url
