"""The first page of a long record answered from its own rows while the whole record is
checked in the background (service/records/whole_checks.py).

A page of a checked record costs its own rows (service/records/pages.py), but the first
read of a record had to check all of it first: ~830 ms for 10,000 events before the
first row. The first page needs nothing the rest of the record holds except the verdict
on that rest and the subject as it stands at the end: its rows are the record's first,
their states are projected from nothing, `total` and `next_after` come from the index.
So it reads, checks (seals, Merkle leaves) and decodes its own rows' streams, as every
page does, and says what it does not know yet: `integrity.checking` is true, `verified`
is null (false when a row it checked is altered: that much is known), `state` is null
and `checked_at` null. The reader asks again (the console: a one-row page) once the
whole check is done; `limit=all`, exports and `lonewatch verify` never come here.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any
from uuid import UUID

from projections.core import Doc
from projections.store import IndexEntry, ViewStore
from projections.views import project
from service.adapters.event_streams import stream_notifications
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import summary
from service.application.lonewatch import Lonewatch
from service.records.proofs import stream_problems
from service.records.record_shape import record_of, while_checking
from service.records.stored_rows import stored_rows_of
from service.records.subject_states import directory_reader, staff_names, subject_state
from service.records.timeline import as_rows


def first_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    *,
    merkle: MerkleLog | None,
    zone: tzinfo,
    limit: int,
) -> dict[str, Any] | None:
    """The record's first `limit` rows with the verdict on them alone (see the module);
    None when a row the index lists is not in its stream as listed (the whole check
    words that)."""
    chosen = entries[:limit]
    horizon = merkle.size()[1] if merkle is not None else 0
    streams = list(dict.fromkeys(UUID(e.originator_id) for e in chosen))
    stored = stream_notifications(app.recorder, streams)
    memo = stored_rows_of(app)
    checks = [memo.stream_check(u, stored[u]) for u in streams]
    read = set(streams)
    positions = {
        (stream, e.originator_version): e.position
        for e in entries
        if (stream := UUID(e.originator_id)) in read
    }
    logged: dict[tuple[UUID, int], str] = {}
    if merkle is not None:
        logged = stream_problems(merkle, stored, positions, horizon, leaf_of=memo.leaf)
    rows_by = {(u, int(n.originator_version)): n for u in streams for n in stored[u]}
    to_domain_event = app.mapper.to_domain_event
    events: list[tuple[int, Any]] = []
    for entry in chosen:
        found = rows_by.get((UUID(entry.originator_id), entry.originator_version))
        if found is None or int(found.id) != entry.position:
            return None
        events.append((entry.position, memo.event(to_domain_event, found)))
    memory: dict[tuple[str, str], Doc] = {}
    reader = directory_reader(views, memory)
    states = []
    for _, event in events:
        memory.update(project(event, reader).docs)
        states.append(subject_state(subject, memory))
    rows = as_rows(events, zone, staff_names(views))
    ok = {(UUID(c.originator_id), e.version): e.ok for c in checks for e in c.events}
    for row, state in zip(rows, states, strict=True):
        key = (UUID(row["aggregate_id"]), int(row["version"]))
        row["state_after"] = state
        row["sealed"] = ok.get(key, False) and key not in logged
    check = summary(checks)
    check.pop("checks")
    check["problems"] += [
        {"aggregate_id": str(stream), "detail": detail}
        for (stream, _), detail in sorted(logged.items())
    ]
    # Known: an altered row on this page. Not known yet: whether the rest verifies.
    check["verified"] = check["verified"] and not logged
    return record_of(
        subject,
        as_of=None,
        state=None,
        events=rows,
        total=len(entries),
        next_after=chosen[-1].position if len(entries) > limit else None,
        integrity=while_checking(check),
    )
