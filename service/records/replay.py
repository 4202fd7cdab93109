"""The DSL's replay: the incident record to export, with its integrity verdict.

The subject's states come from subject_states.py (rebuilt from the recorded events alone),
its events from record_streams.py (each stream read once, checked and decoded from the same
rows), the answer's shape and pages from record_shape.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID

from projections.collector import collector_paused
from projections.store import ViewStore
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import summary
from service.adapters.signing import SigningKey
from service.application.lonewatch import Lonewatch
from service.records.proofs import export_proofs, stream_problems
from service.records.record_shape import Page, record_of
from service.records.record_streams import indexed_streams, read_in_order, read_streams
from service.records.stored_rows import stored_rows_of
from service.records.subject_states import staff_names, states_within
from service.records.timeline import as_rows


def incident_record(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    *,
    as_of: datetime | None = None,
    merkle: MerkleLog | None = None,
    key: SigningKey | None = None,
    with_proofs: bool = False,
    with_paths: bool = True,
    zone: tzinfo = UTC,
    page: Page | None = None,
    with_states: bool = True,
    with_data: bool = True,
) -> dict[str, Any]:
    """Everything recorded about a subject, the state after each event, and the integrity
    verdict (see `_record`); with `page`, only that page's rows (the verdict and the
    current state are still the whole record's); without `with_states`, no row's
    `state_after` (the printable export shows none: 10,000 snapshots spared); without
    `with_data`, no row's `data` nor `aggregate_id` (nor does it show those: ~9 ms of
    10,000 rows' words, and ~8 ms of their streams' ids told as text)."""
    with collector_paused():
        return _record(
            app,
            views,
            subject,
            as_of=as_of,
            merkle=merkle,
            key=key,
            with_proofs=with_proofs,
            with_paths=with_paths,
            zone=zone,
            page=page or Page(),
            with_states=with_states,
            with_data=with_data,
        )


def _record(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    *,
    as_of: datetime | None,
    merkle: MerkleLog | None,
    key: SigningKey | None,
    with_proofs: bool,
    with_paths: bool,
    zone: tzinfo,
    page: Page,
    with_states: bool,
    with_data: bool,
) -> dict[str, Any]:
    """Everything recorded about a subject, the state after each event, and the integrity verdict.

    Each stream is read from the database once: the same bytes are verified and decoded.
    With the Merkle log, the verdict also says whether the streams still hold every event
    the log took in (a removed tail or stream shows); `with_proofs` adds each event's
    inclusion proof and the signed head (`merkle`), which `lonewatch verify --export` checks;
    with `with_paths=False` the signed head alone.
    `zone` (the school's) is the one times inside the rows' words are told in.
    """
    # What the log had taken in before the streams are read: every such event was stored
    # by then, so a stream read now must hold it (the store's own head would not do: a
    # removed tail lowers it).
    horizon = merkle.size()[1] if merkle is not None else 0
    memo = stored_rows_of(app)
    # Streams keyed by their ids' numbers and named by the index's texts: no `UUID` made from
    # text, hashed, or told back as text (docs/performance.md, ids12); the rows' own `UUID`s
    # (the driver's) are the events' and the seals'.
    indexed = indexed_streams(views, subject)
    positions_by_stream = indexed.positions
    stored_streams = read_streams(app, indexed)
    # In the order asked, every stream asked for: no look-up by id.
    streams = memo.stream_checks(stored_streams, indexed.texts)
    read = read_in_order(app, positions_by_stream, stored_streams, streams, as_of)
    events = read.events
    chosen, total, next_after = page.of(events)
    rows = as_rows([events[i] for i in chosen], zone, staff_names(views), with_data=with_data)
    states, current = states_within(views, subject, events, set(chosen) if with_states else ())
    for row, state in zip(rows, states, strict=with_states):
        row["state_after"] = state
    # The verdict is the whole record's, whichever page is shown.
    shown = read.shown
    check = summary([s for s, on in zip(streams, shown, strict=True) if on], with_checks=False)
    logged: dict[tuple[int, int], str] = {}
    if merkle is not None:
        shown_streams = (
            stored_streams
            if all(shown)
            else {u: s for (u, s), on in zip(stored_streams.items(), shown, strict=True) if on}
        )
        logged = stream_problems(
            merkle,
            shown_streams,
            read.positions,
            horizon,
            leaf_of=memo.leaf,
            leaves_of=memo.leaves,
            by_number=True,
        )
        # By number, as by `UUID` (ordered by its int): the same order.
        check["problems"] += [
            {"aggregate_id": str(UUID(int=stream)), "detail": detail}
            for (stream, _), detail in sorted(logged.items())
        ]
        check["verified"] = check["verified"] and not logged
    sealed = read.sealed
    if logged:  # a shown event the log says is altered is not sealed, whatever its seal says
        sealed = dict(sealed)
        for problem in logged:
            if (position := read.positions.get(problem)) is not None:
                sealed[position] = False
    for row in rows:
        row["sealed"] = sealed[row["position"]]
    record = record_of(
        subject,
        as_of=as_of,
        state=current,
        events=rows,
        total=total,
        next_after=next_after,
        integrity=check,
    )
    if merkle is not None and with_proofs:
        record["merkle"] = export_proofs(
            merkle,
            [int(row["position"]) for row in rows],
            key=key,
            now=app.clock.now(),
            stored={n.id: n for stream in stored_streams.values() for n in stream}
            if with_paths
            else None,
            with_paths=with_paths,
        )
    return record


def subject_school(app: Lonewatch, views: ViewStore, subject: str) -> str | None:
    """Which school a subject belongs to; an alert's is read from the event store (never behind)."""
    kind, _, key = subject.partition(":")
    if kind == "alert":
        return app.alert(UUID(key)).school
    doc = views.get(kind, key)
    return str(doc["school"]) if doc and doc.get("school") else None
