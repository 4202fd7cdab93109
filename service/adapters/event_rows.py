"""Rows of the event store read by position, in one query each: the events at scattered
positions (a timeline), plain rows after a position (a rebuild); and what the reads by
stream (event_streams.py) share with them: the one query by a column's values, the ids as
one packed array, a connection held for a run of reads. The inserts are event_inserts.py;
event_store.py turns LW_DATABASE_URL into the library's settings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from service.adapters.pg_arrays import TextArray, UuidArray, execute_with_array

EventRow = tuple[int, "UUID | str", int, str, bytes]
"""(position, originator id, version, topic, stored state): a stored event as read, before
anything is made of it."""


def notifications_at(
    recorder: ApplicationRecorder, positions: Sequence[int], *, conn: Any = None
) -> list[Notification]:
    """The stored events at these positions, in order, in one query (per 500 on SQLite).

    The library reads by aggregate or by a range of positions; a timeline needs
    scattered positions (10,000 heartbeats are 10,000 aggregates), which by
    aggregate is 10,000 queries. This reads the library's own tables, so it is
    checked against each recorder it knows and falls back to the slow path otherwise.
    `conn`: a connection held for several reads (`one_connection`).
    """
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    wanted = sorted(set(positions))
    if not wanted:
        return []
    rows: list[Any] = []
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = postgres_rows(recorder, "notification_id", wanted, "notification_id", conn=conn)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        rows = sqlite_rows(recorder, "rowid", wanted, "rowid")
    else:
        found = set(wanted)
        return [
            n
            for n in recorder.select_notifications(
                start=wanted[0], limit=wanted[-1] - wanted[0] + 1, stop=wanted[-1]
            )
            if n.id in found
        ]
    return [
        Notification(
            id=int(r[0]),
            originator_id=r[1] if isinstance(r[1], UUID) else UUID(str(r[1])),
            originator_version=int(r[2]),
            topic=str(r[3]),
            state=bytes(r[4]),
        )
        for r in rows
    ]


def rows_after(recorder: ApplicationRecorder, start: int, limit: int) -> list[EventRow]:
    """Up to `limit` stored events after position `start`, in order, as plain tuples: the
    library's `select_notifications` without its dictionary and frozen `Notification` per
    row (a rebuild reads a million; building those was ~2 µs an event)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    if not isinstance(recorder, PostgresApplicationRecorder):
        return [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in recorder.select_notifications(
                start=start, limit=limit, inclusive_of_start=False
            )
        ]
    from psycopg.rows import tuple_row
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(statement, (start, limit), binary=True)
        return cast("list[EventRow]", cur.fetchall())


@contextmanager
def one_connection(recorder: ApplicationRecorder) -> Iterator[Any]:
    """One of the store's pooled connections for a run of reads (None: not PostgreSQL): the
    pool tests each connection it hands out with a round trip of its own (`check`, kept
    service-wide: it replaces connections a restarted database dropped), once here for the
    run rather than once a read. Pass it as `conn` to the reads that take one
    (`notifications_at`, event_streams.py's `stream_rows_named`)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    if not isinstance(recorder, PostgresApplicationRecorder):
        yield None
        return
    with recorder.datastore.get_connection() as conn:
        yield conn


@contextmanager
def held_or_pooled(recorder: Any, held: Any = None) -> Iterator[Any]:
    """`held` (a connection kept for a run of reads, `one_connection`) if given, else one
    taken from the store's pool for this read alone."""
    if held is not None:
        yield held
        return
    with recorder.datastore.get_connection() as conn:
        yield conn


def id_array(recorder: Any, originator_ids: list[Any]) -> Any:
    """The originator ids as one packed array (service.adapters.pg_arrays)."""
    if recorder.datastore.originator_id_type != "uuid":
        return TextArray.of([str(u) for u in originator_ids])
    return UuidArray.of([u if isinstance(u, UUID) else UUID(str(u)) for u in originator_ids])


def postgres_rows(
    recorder: Any,
    column: str,
    values: Any,
    order: str,
    *,
    as_type: str | None = None,
    conn: Any = None,
) -> list[Any]:
    """(position, originator id, version, topic, state) of the rows whose `column` is one of
    `values` (a list, or an array already packed by `id_array`; `as_type`: the array's type
    as the server is to read it), in one query (on `conn` when one is held); binary, so
    10,000 states are not hex-decoded."""
    from psycopg.rows import tuple_row

    statement = rows_statement(recorder, column, order, as_type)
    with held_or_pooled(recorder, conn) as held, held.cursor(row_factory=tuple_row) as cur:
        execute_with_array(cur, statement, (values,), binary=True)
        rows: list[Any] = cur.fetchall()
        return rows


def rows_statement(recorder: Any, column: str, order: str, as_type: str | None = None) -> Any:
    """`postgres_rows`' query: the rows whose `column` is one of an array parameter."""
    from psycopg.sql import SQL, Identifier

    return SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE {column} = ANY(%s{as_type}) ORDER BY {order}"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
        column=Identifier(column),
        as_type=SQL(f"::{as_type}" if as_type else ""),
        order=SQL(order),
    )


def sqlite_rows(recorder: Any, column: str, values: Sequence[Any], order: str) -> list[Any]:
    """The same rows on SQLite, 500 values a query (its limit on bound parameters)."""
    rows: list[Any] = []
    for i in range(0, len(values), 500):
        chunk = values[i : i + 500]
        query = (
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {recorder.events_table_name} "
            f"WHERE {column} IN ({', '.join('?' for _ in chunk)}) ORDER BY {order}"
        )
        with recorder.datastore.transaction(commit=False) as cur:
            cur.execute(query, chunk)
            rows.extend(tuple(r) for r in cur.fetchall())
    return rows
