"""Rows of the event store read by stream, in one query for many streams: a record's
streams (as notifications, or as plain rows, by id or by the views' text of it) and the
aggregates a unit of work loads. The query they share is event_rows.py's."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from service.adapters.event_rows import (
    EventRow,
    id_array,
    postgres_rows,
    rows_statement,
    sqlite_rows,
)
from service.adapters.pg_arrays import TextArray, execute_with_array


class StoredRow(NamedTuple):
    """A stored event as read, with the attribute names of the library's `Notification`
    (`id` its position), so a seal or leaf check reads it as it reads one, and an
    `EventRow` (a plain tuple in the same order) for `projections.decoding.RowDecoder`."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


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
        rows = postgres_rows(recorder, "originator_id", id_array(recorder, wanted), order)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        rows = sqlite_rows(recorder, "originator_id", [u.hex for u in wanted], order)
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
    rows: list[EventRow] = postgres_rows(
        recorder, "originator_id", id_array(recorder, wanted), "originator_id, originator_version"
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
    if not _named_on_postgres(recorder, originator_ids):
        wanted = [UUID(text) for text in originator_ids]
        return [row for rows in stream_rows(recorder, wanted).values() for row in rows]
    rows: list[EventRow] = postgres_rows(
        recorder,
        "originator_id",
        TextArray.of(list(originator_ids)),
        _BY_STREAM,
        as_type="uuid[]",
        conn=conn,
    )
    return rows


@contextmanager
def stream_rows_named_ahead(
    recorder: ApplicationRecorder, originator_ids: Sequence[str], *, conn: Any = None
) -> Iterator[Callable[[], list[EventRow]]]:
    """`stream_rows_named`, asked for as the block is entered and read when the function it
    gives is called (within the block, once): on a held PostgreSQL connection the query is
    sent at once, alone in psycopg's pipeline mode, and the server reads the rows while the
    caller works on (a cold page as of an instant groups the index meanwhile; the log's
    leaves are asked for the same way, `MerkleLog.stream_leaf_rows_ahead`). Nothing else
    may use `conn` within the block. Elsewhere read at once."""
    if conn is None or not _named_on_postgres(recorder, originator_ids):
        rows = stream_rows_named(recorder, originator_ids, conn=conn)
        yield lambda: rows
        return
    from psycopg.rows import tuple_row

    statement = rows_statement(recorder, "originator_id", _BY_STREAM, "uuid[]")
    with conn.pipeline(), conn.cursor(row_factory=tuple_row) as cur:
        execute_with_array(cur, statement, (TextArray.of(list(originator_ids)),), binary=True)
        yield lambda: cast("list[EventRow]", cur.fetchall())


_BY_STREAM = "originator_id, originator_version"


def _named_on_postgres(recorder: ApplicationRecorder, originator_ids: Sequence[str]) -> bool:
    """Whether streams named by text are read in one PostgreSQL query (ids stored as UUIDs)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    return (
        bool(originator_ids)
        and isinstance(recorder, PostgresApplicationRecorder)
        and recorder.datastore.originator_id_type == "uuid"
    )


def load_aggregates(
    recorder: ApplicationRecorder,
    mapper: Any,
    aggregate_ids: Collection[UUID],
    *,
    saw: Callable[[Notification], object] | None = None,
) -> dict[UUID, Any]:
    """Many aggregates at once: their events in one query (per 500 ids on SQLite), each
    projected as the repository would (no snapshots here). Absent ones are left out.

    A gateway meeting a thousand devices for the first time needs each one's directory
    entry; one query for all of them, not one (or three) per device. The rows are read as a
    record reads its streams (`stream_notifications`), the one reader of many streams.
    `saw`: told each stream's last row (the sealing store keeps its seal for the next save)."""
    aggregates: dict[UUID, Any] = {}
    for key, stream in stream_notifications(recorder, list(aggregate_ids)).items():
        aggregate = None
        for stored in stream:
            aggregate = mapper.to_domain_event(stored).mutate(aggregate)
        if aggregate is not None:
            aggregates[key] = aggregate
            if saw is not None:
                saw(stream[-1])
    return aggregates
