"""A checked record brought up to the events indexed since its check, checking only those
(service/records/pages.py): a live alert or a device still sending gains events while a
DSL pages through it, and each would otherwise check the whole record again.

The events added must come after every event checked (positions only grow); their streams
are read whole and checked again (an alert's new event chains to its earlier ones), and
the earlier events of those streams must be what the check found. Anything else (an event
indexed out of order, a stream that changed underneath) answers None: check it all.
The result keeps the first check's time and age, so the whole record is still checked
afresh within `TTL_SECONDS` of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from projections.core import Doc
from projections.store import IndexEntry, ViewStore
from projections.views import project
from service.adapters.event_streams import stream_notifications
from service.adapters.merkle_log import MerkleLog
from service.application.lonewatch import Lonewatch
from service.records.proofs import stream_problems
from service.records.record_cache import STEP, Checked
from service.records.record_streams import decoded
from service.records.stored_rows import stored_rows_of
from service.records.subject_states import directory_reader


def extended(
    app: Lonewatch,
    views: ViewStore,
    before: Checked,
    entries: Sequence[IndexEntry],
    merkle: MerkleLog | None,
    step: int = STEP,
) -> Checked | None:
    """`before` with the events of `entries` past it checked, decoded and projected."""
    horizon = merkle.size()[1] if merkle is not None else 0
    added = entries[len(before.entries) :]
    last = before.positions[-1] if before.positions else 0
    touched: dict[UUID, dict[int, int]] = {}
    for entry in added:
        if entry.position <= last:
            return None
        touched.setdefault(UUID(entry.originator_id), {})[entry.originator_version] = entry.position
    stored = stream_notifications(app.recorder, list(touched))
    memo = stored_rows_of(app)
    checks = dict(before.checks)
    for stream in touched:
        check = memo.stream_check(stream, stored[stream])
        earlier = before.checks.get(stream)
        if earlier is not None and check.events[: len(earlier.events)] != earlier.events:
            return None
        checks[stream] = check
    new = decoded(app, touched, stored, None)
    if len(new) != len(added):
        return None  # an indexed event is not in the store: the full path words it
    count = len(before.positions)
    of_stream = {u: list(indexes) for u, indexes in before.of_stream.items()}
    for offset, (_, event) in enumerate(new):
        of_stream.setdefault(event.originator_id, []).append(count + offset)
    logged = {k: v for k, v in before.logged.items() if k[0] not in touched}
    if merkle is not None:
        positions = {
            (u, before.versions[i]): before.positions[i]
            for u in touched
            for i in before.of_stream.get(u, [])
        } | {(e.originator_id, e.originator_version): p for p, e in new}
        found = stream_problems(merkle, stored, positions, horizon, leaf_of=memo.leaf)
        logged |= {key: (words, positions.get(key)) for key, words in found.items()}
    memory: dict[tuple[str, str], Doc] = dict(before.final)
    read = directory_reader(views, memory)
    checkpoints = dict(before.checkpoints)
    for offset, (_, event) in enumerate(new):
        memory.update(project(event, read).docs)
        if (count + offset) % step == step - 1:
            checkpoints[count + offset] = dict(memory)
    events: list[tuple[int, Any]] = new
    return replace(
        before,
        entries=tuple(entries),
        positions=before.positions + [p for p, _ in events],
        stamps=before.stamps + [e.timestamp for _, e in events],
        streams=before.streams + [e.originator_id for _, e in events],
        versions=before.versions + [e.originator_version for _, e in events],
        of_stream=of_stream,
        stream_order=before.stream_order + [u for u in touched if u not in before.checks],
        checks=checks,
        logged=logged,
        checkpoints=checkpoints,
        final=dict(memory),
        verdicts={},
    )
