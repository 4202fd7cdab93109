"""The event store's write path: a group of sealed events inserted in one statement, the
repeatable streams (a device message sent again) left out under the table's lock, and
which aggregates already have events (the duplicate check before a save)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.utils import retry

from service.adapters.event_rows import id_array
from service.adapters.pg_arrays import ByteaArray, Int4Array, TextArray, UuidArray
from service.adapters.sqlite_writers import set_for_writing


class SealedRow(NamedTuple):
    """A sealed event's row as the insert takes it: what the library's `StoredEvent` holds,
    made as a tuple (`tuple.__new__`, ~0.1 µs), where that frozen dataclass's `__init__`
    costs ~0.8 µs, once per heartbeat. A `StoredEvent` is taken as well (the library's
    recorders are given one)."""

    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


Row = SealedRow | StoredEvent


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


def insert_events(
    recorder: Any,
    stored: Sequence[Row],
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
    lock (`repeatable` is asked only about a row left out, so a set is passed as it is, not
    copied; on PostgreSQL a plain try first, `_insert_unnest`). Any other row that collides
    refuses the whole group (`IntegrityError`), as before. Anything else (a tracking
    record, another recorder) goes the library's way.
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
    library = [e if isinstance(e, StoredEvent) else StoredEvent(*e) for e in stored]
    if not repeatable:
        return cast("Sequence[int] | None", recorder.insert_events(library, **kwargs))
    # Another recorder: the same rule, asked first (not atomic with the insert; a race
    # is refused by the store and the caller saves one by one).
    there = existing_originators(
        recorder, [UUID(str(e.originator_id)) for e in library if e.originator_id in repeatable]
    )
    kept = [e for e in library if e.originator_id not in there]
    ids: Sequence[int] | None = recorder.insert_events(kept, **kwargs)
    if ids is None:
        return None
    given = iter(ids)
    return [None if e.originator_id in there else next(given) for e in stored]


def _refused(stored: Sequence[Row], went_in: Sequence[object], repeatable: Any) -> None:
    """Raise, inside the insert's transaction, if a row left out was not a repeatable one."""
    for event, position in zip(stored, went_in, strict=True):
        if position is None and event.originator_id not in repeatable:
            msg = (
                f"event {event.originator_id} version {event.originator_version} is already stored"
            )
            raise IntegrityError(msg)


REPEATS_REMEMBERED = 16
"""Groups inserted the skipping way after a plain try found a repeat: repeats come in runs
(a session resumed, a device sending its queue again), and each plain try that meets one
costs the group a rolled-back insert."""


def _insert_unnest(
    recorder: Any, stored: Sequence[Row], repeatable: Collection[UUID]
) -> list[int | None]:
    """A group with repeatable streams is first inserted plainly, refusing any repeat, and
    again leaving repeats out only if that was refused. `ON CONFLICT DO NOTHING` makes
    PostgreSQL probe the key before every row and confirm each speculative insert (a WAL
    record more a row): ~2 of ~8-10 server CPU-µs an event (docs/performance.md,
    ingest13), paid for every heartbeat to catch a repeat that comes with a resumed
    session. The refused try rolls back whole (its sequence values are a gap, as a row
    left out already makes: readers take positions as they come), and so does a group
    with a row that repeats a stream that is not repeatable, whichever way it is tried."""
    if repeatable:
        seen = getattr(recorder, "_lw_repeats_seen", 0)
        if seen > 0:
            recorder._lw_repeats_seen = seen - 1
        else:
            try:
                plain: list[int | None] = _insert_group(recorder, stored, ())
            except IntegrityError:
                recorder._lw_repeats_seen = REPEATS_REMEMBERED
            else:
                return plain
    positions: list[int | None] = _insert_group(recorder, stored, repeatable)
    return positions


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _insert_group(
    recorder: Any, stored: Sequence[Row], repeatable: Collection[UUID]
) -> list[int | None]:
    from psycopg.rows import tuple_row

    statements = getattr(recorder, "_lw_insert_statements", None)
    columns = (
        id_array(recorder, [e.originator_id for e in stored]),
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
    recorder: Any, stored: Sequence[Row], repeatable: Collection[UUID]
) -> list[int | None]:
    """`insert_events` with repeatable streams on SQLite, in one transaction: the group in
    one `executemany`, each row `ON CONFLICT DO NOTHING` (an upsert: SQLite 3.24 and
    later); a row left out that was not repeatable rolls the group back.

    Positions: SQLite gives a row without a rowid the table's largest rowid plus one
    (https://sqlite.org/autoinc.html), and the writer holds the file's write lock from the
    first insert to the commit, so the rows that went in are the largest rowids after it,
    in order. Nothing is read before the insert: under the library's deferred `BEGIN` a
    read would open a snapshot, and in WAL mode a snapshot that another connection writes
    past (the Merkle worker's leaves, the alarm lane) cannot take the write lock
    (`SQLITE_BUSY_SNAPSHOT`, not waited on by the busy timeout). When a repeat was left
    out, the rows that went in are read back by stream and version.
    The row-by-row `execute` and `lastrowid` it replaces cost a Python call and a statement
    reset a row on the thread that holds the GIL."""
    table = recorder.events_table_name
    statement = (
        f"INSERT INTO {table} VALUES (?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (originator_id, originator_version) DO NOTHING"
    )
    last = f"SELECT max(rowid) FROM {table}"  # noqa: S608
    rows = [
        (
            e.originator_id.hex if type(e.originator_id) is UUID else e.originator_id,
            e.originator_version,
            e.topic,
            e.state,
        )
        for e in stored
    ]
    with recorder.datastore.transaction(commit=True) as cursor:
        raw = cursor.sqlite_cursor  # the library's wrapper adds a call
        set_for_writing(raw, hold_pages=True)
        raw.executemany(statement, rows)
        went_in = raw.rowcount
        after = raw.execute(last).fetchone()[0] or 0
        before = after - went_in
        if went_in == len(rows):
            return list(range(before + 1, after + 1))
        raw.execute(
            f"SELECT rowid, originator_id, originator_version FROM {table} "  # noqa: S608
            "WHERE rowid > ?",
            (before,),
        )
        found = {(r[1], r[2]): r[0] for r in raw.fetchall()}
        positions: list[int | None] = [found.get((r[0], r[1])) for r in rows]
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
