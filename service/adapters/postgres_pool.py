"""The small connection pool of a table of our own beside the event store in PostgreSQL
(the leases, the shared sign-in failures): its own two connections, so a lease renewal or
a sign-in check never waits behind a burst of the store's writes for one.

Autocommit (each call is one statement); a pooled connection is tested as it is taken, a
lost one reconnected within 2 s, and a caller waits at most `timeout` for a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


def small_pool(url: str, *, timeout: float, schema: Sequence[str]) -> ConnectionPool:
    """An open pool with the tables of `schema` created (each statement `IF NOT EXISTS`).
    If creating them fails the pool is closed again and the error raised: two processes
    creating one table at once, one fails and is opened again by `with_startup_retries`
    (service/adapters/event_store.py)."""
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=2,
        open=True,
        timeout=timeout,
        reconnect_timeout=2,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 3},
    )
    try:
        with pool.connection() as conn:
            for statement in schema:
                conn.execute(statement)
    except BaseException:
        pool.close()
        raise
    return pool
