"""Rows of the event store read and written in one query each: the originators already
stored, notifications by position or by stream, plain rows for a rebuild, a group's insert
and the aggregates a unit of work loads. Apart from event_store.py, which turns
LW_DATABASE_URL into the library's settings and keeps its connections alive."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.utils import retry

from service.adapters.pg_arrays import ByteaArray, Int4Array, TextArray, UuidArray


def existing_originators(recorder: object, originator_ids: Collection[UUID]) -> set[UUID]:
    """Which of these aggregates already have events: one query per 500 ids, so a batch
    of device messages learns its duplicates before it tries to save them."""
    from eventsourcing.postgres import PostgresAggregateRecorder
    from eventsourcing.sqlite import SQLiteAggregateRecorder

    wanted = list(dict.fromkeys(originator_ids))
    found: set[UUID] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        if isinstance(recorder, SQLiteAggregateRecorder):
            marks = ",".join("?" for _ in chunk)
            statement = (
                f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                f"WHERE originator_id IN ({marks})"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [u.hex for u in chunk])
                found.update(UUID(str(row[0])) for row in cursor.fetchall())
        elif isinstance(recorder, PostgresAggregateRecorder):
            query = getattr(recorder, "_lw_existing", None)
            if query is None:
                from psycopg.sql import SQL, Identifier

                query = (
                    SQL(
                        "SELECT DISTINCT originator_id FROM {schema}.{table} "
                        "WHERE originator_id = ANY(%s)"
                    )
                    .format(
                        schema=Identifier(recorder.datastore.schema),
                        table=Identifier(recorder.events_table_name),
                    )
                    .as_bytes(None)
                )
                recorder._lw_existing = query  # type: ignore[attr-defined]
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(query, [UuidArray.of(chunk)], prepare=True)
                found.update(_uuid(row["originator_id"]) for row in curs.fetchall())
        else:
            select = recorder.select_events  # type: ignore[attr-defined]
            found.update(u for u in chunk if select(u, desc=True, limit=1))
    return found


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


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
        rows = _postgres_rows(recorder, "notification_id", wanted, "notification_id", conn=conn)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        rows = _sqlite_rows(recorder, "rowid", wanted, "rowid")
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


def stream_notifications(
    recorder: ApplicationRecorder, originator_ids: Sequence[UUID]
) -> dict[UUID, list[Notification]]:
    """Every stored event of these streams, each stream in version order, with its position:
    one query (per 500 streams on SQLite) for a record whose 10,000 heartbeats are 10,000
    streams. The bytes come back as stored, so seals and Merkle leaves are checked from them
    and the same rows are decoded: nothing is read twice."""
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    wanted = list(dict.fromkeys(originator_ids))
    streams: dict[UUID, list[Notification]] = {u: [] for u in wanted}
    if not wanted:
        return streams
    rows: list[Any] = []
    order = "originator_id, originator_version"
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _postgres_rows(recorder, "originator_id", _id_array(recorder, wanted), order)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        rows = _sqlite_rows(recorder, "originator_id", [u.hex for u in wanted], order)
    else:
        for originator_id in wanted:
            found = recorder.select_events(originator_id)
            rows.extend((0, s.originator_id, s.originator_version, s.topic, s.state) for s in found)
    for r in rows:
        originator_id = r[1] if isinstance(r[1], UUID) else UUID(str(r[1]))
        streams[originator_id].append(
            Notification(
                id=int(r[0]),
                originator_id=originator_id,
                originator_version=int(r[2]),
                topic=str(r[3]),
                state=bytes(r[4]),
            )
        )
    return streams


EventRow = tuple[int, "UUID | str", int, str, bytes]
"""(position, originator id, version, topic, stored state): a stored event as read, before
anything is made of it."""


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


class StoredRow(NamedTuple):
    """A stored event as read, with the attribute names of the library's `Notification`
    (`id` its position), so a seal or leaf check reads it as it reads one, and an
    `EventRow` (a plain tuple in the same order) for `projections.decoding.RowDecoder`."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def stream_rows(
    recorder: ApplicationRecorder, originator_ids: Sequence[UUID]
) -> dict[UUID, list[EventRow]]:
    """`stream_notifications` as plain rows: the ids sent as one packed array and each row
    the tuple the driver made, not a frozen `Notification` (a cold page as of an instant
    reads 5,000 streams and checks them from their bytes; building the objects, and the
    collector's passes over them, were a third of the read). `StoredRow._make` gives one
    attribute names where a check needs them."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    wanted = list(dict.fromkeys(originator_ids))
    streams: dict[UUID, list[EventRow]] = {u: [] for u in wanted}
    if not wanted or not isinstance(recorder, PostgresApplicationRecorder):
        for key, found in stream_notifications(recorder, wanted).items():
            streams[key] = [
                (int(n.id), key, int(n.originator_version), n.topic, bytes(n.state)) for n in found
            ]
        return streams
    rows: list[EventRow] = _postgres_rows(
        recorder, "originator_id", _id_array(recorder, wanted), "originator_id, originator_version"
    )
    for row in rows:
        given = row[1]
        if type(given) is UUID:
            streams[given].append(row)
        else:
            key = UUID(str(given))
            streams[key].append((row[0], key, row[2], row[3], row[4]))
    return streams


def stream_rows_named(
    recorder: ApplicationRecorder, originator_ids: Sequence[str], *, conn: Any = None
) -> list[EventRow]:
    """`stream_rows` for streams named as the views' index names them (text), every row in
    stream and version order, each the driver's tuple with its id a `UUID`. The ids are sent
    as they are, one packed text array the server reads as UUIDs: a cold page as of an
    instant of a 10,000-event record names 5,000 streams, and `UUID(text)` for each was
    ~4 ms of its CPU (docs/performance.md, asof4). `conn`: as `notifications_at`'s."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    if (
        not originator_ids
        or not isinstance(recorder, PostgresApplicationRecorder)
        or recorder.datastore.originator_id_type != "uuid"
    ):
        wanted = [UUID(text) for text in originator_ids]
        return [row for rows in stream_rows(recorder, wanted).values() for row in rows]
    rows: list[EventRow] = _postgres_rows(
        recorder,
        "originator_id",
        TextArray.of(list(originator_ids)),
        "originator_id, originator_version",
        as_type="uuid[]",
        conn=conn,
    )
    return rows


def insert_events(
    recorder: Any,
    stored: Sequence[StoredEvent],
    *,
    repeatable: Collection[UUID] = (),
    **kwargs: Any,
) -> Sequence[int | None] | None:
    """Insert sealed events; on PostgreSQL as one statement in one round trip.

    The library inserts a group row by row (`executemany`: a prepared INSERT per event,
    pipelined); here the whole group is one `INSERT ... SELECT FROM unnest(...)`, after
    the same `LOCK TABLE` and `NOTIFY`, in the same transaction: the same rows, the same
    order of positions, a fraction of the work on both sides. (The library's own
    single-statement path, `POSTGRES_ENABLE_DB_FUNCTIONS`, leaves the table's lock out,
    so positions could become visible out of order and the views skip an event.)

    `repeatable`: streams whose first event may be stored already (a device message sent
    again: its id is the device's and the message's). Such a row is left out, not refused,
    and its position comes back None: the insert is the duplicate check, under the table's
    lock, in the same round trip (`repeatable` is asked only about a row left out, so a set
    is passed as it is, not copied). Any other row that collides refuses the whole group
    (`IntegrityError`), as before. Anything else (a tracking record, another recorder)
    goes the library's way.
    """
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    extra = any(value is not None for value in kwargs.values())  # `tracking=None` is no extra
    if stored and not extra:
        if isinstance(recorder, PostgresApplicationRecorder):
            positions: list[int | None] = _insert_unnest(recorder, stored, repeatable)
            return positions
        if repeatable and isinstance(recorder, SQLiteApplicationRecorder):
            return _insert_sqlite_skipping(recorder, stored, repeatable)
    if not repeatable:
        return cast("Sequence[int] | None", recorder.insert_events(stored, **kwargs))
    # Another recorder: the same rule, asked first (not atomic with the insert; a race
    # is refused by the store and the caller saves one by one).
    there = existing_originators(
        recorder, [UUID(str(e.originator_id)) for e in stored if e.originator_id in repeatable]
    )
    kept = [e for e in stored if e.originator_id not in there]
    ids: Sequence[int] | None = recorder.insert_events(kept, **kwargs)
    if ids is None:
        return None
    given = iter(ids)
    return [None if e.originator_id in there else next(given) for e in stored]


def _refused(stored: Sequence[StoredEvent], went_in: Sequence[object], repeatable: Any) -> None:
    """Raise, inside the insert's transaction, if a row left out was not a repeatable one."""
    for event, position in zip(stored, went_in, strict=True):
        if position is None and event.originator_id not in repeatable:
            msg = (
                f"event {event.originator_id} version {event.originator_version} is already stored"
            )
            raise IntegrityError(msg)


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _insert_unnest(
    recorder: Any, stored: Sequence[StoredEvent], repeatable: Collection[UUID]
) -> list[int | None]:
    from psycopg.rows import tuple_row

    statements = getattr(recorder, "_lw_insert_statements", None)
    columns = (
        _id_array(recorder, [e.originator_id for e in stored]),
        Int4Array.of([e.originator_version for e in stored]),
        TextArray.of([e.topic for e in stored]),
        ByteaArray.of([e.state for e in stored]),
    )
    failure: Exception | None = None
    positions: list[int | None] = []
    with recorder.datastore.get_connection() as conn:
        if statements is None:
            statements = recorder._lw_insert_statements = _insert_statements(recorder, conn)
        locks, notify, insert, insert_skipping = statements
        with (
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as curs,  # no dict per returned position
        ):
            for lock in locks:
                curs.execute(lock, prepare=True)
            curs.execute(notify)
            try:
                if not repeatable:
                    curs.execute(insert, columns, prepare=True, binary=True)
                    pipeline.sync()
                    positions = [row[0] for row in curs.fetchall()]
                else:
                    curs.execute(insert_skipping, columns, prepare=True, binary=True)
                    pipeline.sync()
                    rows = curs.fetchall()
                    if len(rows) == len(stored):
                        positions = [row[0] for row in rows]
                    else:
                        found = {(str(r[1]), r[2]): r[0] for r in rows}
                        positions = [
                            found.get((str(e.originator_id), e.originator_version)) for e in stored
                        ]
            except Exception as exc:  # raised after the pipeline is closed, as the library does
                failure = exc
            if failure is None and None in positions:
                _refused(stored, positions, repeatable)  # raised here: rolls the group back
        if failure is not None:
            raise failure
    return positions


def _insert_sqlite_skipping(
    recorder: Any, stored: Sequence[StoredEvent], repeatable: Collection[UUID]
) -> list[int | None]:
    """`insert_events` with repeatable streams on SQLite: the library's row-by-row insert,
    each row `ON CONFLICT DO NOTHING` (an upsert: SQLite 3.24 and later) and its position
    `lastrowid` when a row went in, in one transaction; a row left out that was not
    repeatable rolls the group back."""
    statement = (
        f"INSERT INTO {recorder.events_table_name} VALUES (?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (originator_id, originator_version) DO NOTHING"
    )
    positions: list[int | None] = []
    went_in = positions.append
    with recorder.datastore.transaction(commit=True) as cursor:
        raw = cursor.sqlite_cursor  # the library's wrapper adds a call a row
        execute = raw.execute
        for e in stored:
            given = e.originator_id
            execute(
                statement,
                (
                    given.hex if type(given) is UUID else given,
                    e.originator_version,
                    e.topic,
                    e.state,
                ),
            )
            went_in(raw.lastrowid if raw.rowcount == 1 else None)
        if None in positions:
            _refused(stored, positions, repeatable)
    return positions


def _insert_statements(recorder: Any, conn: Any) -> tuple[list[bytes], bytes, bytes, bytes]:
    """The lock, the notify and the inserts (refusing any repeat, or leaving out repeats and
    naming what went in), rendered to bytes once per recorder: a composed statement is
    rendered again on every execute (psycopg's `PostgresQuery.convert`)."""
    from psycopg.sql import SQL, Composable, Identifier

    id_type = "uuid" if recorder.datastore.originator_id_type == "uuid" else "text"
    insert = SQL(
        "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(%s::{id_type}[], %s::integer[], %s::text[], %s::bytea[]) "
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
        id_type=SQL(id_type),
    )
    notify = SQL("NOTIFY {0}").format(Identifier(recorder.channel_name))

    def rendered(query: Any) -> bytes:
        if isinstance(query, Composable):
            return query.as_bytes(conn)
        return query if isinstance(query, bytes) else str(query).encode()

    return (
        [rendered(lock) for lock in recorder.lock_table_statements],
        rendered(notify),
        rendered(insert + SQL("RETURNING notification_id")),
        rendered(
            insert
            + SQL(
                "ON CONFLICT (originator_id, originator_version) DO NOTHING "
                "RETURNING notification_id, originator_id, originator_version"
            )
        ),
    )


def _id_array(recorder: Any, originator_ids: list[Any]) -> Any:
    """The originator ids as one packed array (service.adapters.pg_arrays)."""
    if recorder.datastore.originator_id_type != "uuid":
        return TextArray.of([str(u) for u in originator_ids])
    return UuidArray.of([u if isinstance(u, UUID) else UUID(str(u)) for u in originator_ids])


def load_aggregates(
    recorder: ApplicationRecorder, mapper: Any, aggregate_ids: Collection[UUID]
) -> dict[UUID, Any]:
    """Many aggregates at once: their events in one query (per 500 ids on SQLite), each
    projected as the repository would (no snapshots here). Absent ones are left out.

    A gateway meeting a thousand devices for the first time needs each one's directory
    entry; one query for all of them, not one (or three) per device. The rows are read as a
    record reads its streams (`stream_notifications`), the one reader of many streams."""
    aggregates: dict[UUID, Any] = {}
    for key, stream in stream_notifications(recorder, list(aggregate_ids)).items():
        aggregate = None
        for stored in stream:
            aggregate = mapper.to_domain_event(stored).mutate(aggregate)
        if aggregate is not None:
            aggregates[key] = aggregate
    return aggregates


@contextmanager
def one_connection(recorder: ApplicationRecorder) -> Iterator[Any]:
    """One of the store's pooled connections for a run of reads (None: not PostgreSQL): the
    pool tests each connection it hands out with a round trip of its own (`check`, kept
    service-wide: it replaces connections a restarted database dropped), once here for the
    run rather than once a read. Pass it as `conn` to the reads above."""
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


def _postgres_rows(
    recorder: Any,
    column: str,
    values: Any,
    order: str,
    *,
    as_type: str | None = None,
    conn: Any = None,
) -> list[Any]:
    """(position, originator id, version, topic, state) of the rows whose `column` is one of
    `values` (a list, or an array already packed by `_id_array`; `as_type`: the array's type
    as the server is to read it), in one query (on `conn` when one is held); binary, so
    10,000 states are not hex-decoded."""
    from psycopg.rows import tuple_row
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE {column} = ANY(%s{as_type}) ORDER BY {order}"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
        column=Identifier(column),
        as_type=SQL(f"::{as_type}" if as_type else ""),
        order=SQL(order),
    )
    with held_or_pooled(recorder, conn) as held, held.cursor(row_factory=tuple_row) as cur:
        cur.execute(statement, (values,), binary=True)
        rows: list[Any] = cur.fetchall()
        return rows


def _sqlite_rows(recorder: Any, column: str, values: Sequence[Any], order: str) -> list[Any]:
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
