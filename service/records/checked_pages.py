"""A page from a checked record: the record's events read, verified, decoded and projected
(`check`), and a page worded from what was checked (`answer`), its rows read and checked
again unless they were just decoded (service/records/pages.py serves pages from these;
service/records/instant_page.py a cold page as of an instant)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from itertools import compress
from operator import attrgetter
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from projections.core import Doc
from projections.store import IndexEntry, ViewStore
from projections.views import project
from service.adapters.event_rows import EventRow
from service.adapters.event_streams import stream_notifications
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import HEADER_BYTES, MAGIC, StreamCheck, summary
from service.application.lonewatch import Lonewatch
from service.records.proofs import stream_problems
from service.records.record_cache import STEP, Checked
from service.records.record_shape import Page, record_of
from service.records.record_streams import decoded, removed_whole
from service.records.row_checks import leaves_logged
from service.records.sound_blocks import Sound, by_block, sound
from service.records.stored_rows import stored_rows_of
from service.records.subject_states import directory_reader, staff_names, subject_state
from service.records.timeline import as_rows

Memory = dict[tuple[str, str], Doc]


def check(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: Sequence[IndexEntry],
    merkle: MerkleLog | None,
    monotonic: float,
) -> tuple[Checked, list[Any]]:
    """`check_whole`, and the events it decoded, in recorded order."""
    horizon = merkle.size()[1] if merkle is not None else 0
    by_stream: dict[UUID, dict[int, int]] = {}
    for entry in entries:
        by_stream.setdefault(UUID(entry.originator_id), {})[entry.originator_version] = (
            entry.position
        )
    stored = stream_notifications(app.recorder, list(by_stream))
    memo = stored_rows_of(app)
    checks = {u: memo.stream_check(u, stored[u]) for u in by_stream}
    events = decoded(app, by_stream, stored, None)
    logged, sound = _logged(merkle, by_stream, stored, checks, horizon, memo.leaf)
    memory: Memory = {}
    directory: dict[tuple[str, str], Doc | None] = {}
    read = directory_reader(views, memory, directory)
    checkpoints: dict[int, Memory] = {}
    for index, (_, event) in enumerate(events):
        memory.update(project(event, read).docs)
        if index % STEP == STEP - 1:
            checkpoints[index] = dict(memory)
    of_stream: dict[UUID, list[int]] = {}
    for index, (_, event) in enumerate(events):
        of_stream.setdefault(event.originator_id, []).append(index)
    checked = Checked(
        entries=tuple(entries),
        of_stream=of_stream,
        positions=[p for p, _ in events],
        stamps=[e.timestamp for _, e in events],
        streams=[e.originator_id for _, e in events],
        versions=[e.originator_version for _, e in events],
        stream_order=list(by_stream),
        checks=checks,
        logged=logged,
        checkpoints=checkpoints,
        final=dict(memory),
        checked_at=app.clock.now(),
        monotonic=monotonic,
        seals=_seals(stored, checks, events),
        directory=directory,
        sound=sound,
    )
    return checked, [event for _, event in events]


def _logged(
    merkle: MerkleLog | None,
    by_stream: dict[UUID, dict[int, int]],
    stored: dict[UUID, list[Notification]],
    checks: dict[UUID, StreamCheck],
    horizon: int,
    leaf_of: Callable[[int, Any, int, str, bytes], bytes],
) -> tuple[dict[tuple[UUID, int], tuple[str, int | None]], dict[int, Sound]]:
    """What the Merkle log says of the record's events, as `stream_problems` words it (and
    the position of each event it names), and the record's sound blocks (service/records/
    sound_blocks.py: a later cold page as of an instant proves its rows are these by one
    digest a block), from one read of the streams' leaves compared with their rows."""
    streams = list(stored)
    rows = [
        [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored[u]]
        for u in streams
    ]
    leaves = merkle.stream_leaf_rows(streams) if merkle is not None else []
    blocks = by_block([u.hex for u in streams], leaves, horizon)
    logged: dict[tuple[UUID, int], tuple[str, int | None]] = {}
    unsound: set[str] = set()
    if merkle is not None:
        pairs: list[tuple[UUID, list[EventRow]]] = list(zip(streams, rows, strict=True))
        shown = [
            (position, row)
            for versions, found in zip(by_stream.values(), rows, strict=True)
            for row in found
            if (position := versions.get(row[2])) is not None
        ]
        every = [leaf for block in blocks for leaf in block]
        logged = leaves_logged(
            merkle, pairs, pairs, shown, horizon, every, leaf_of=leaf_of, unsound=unsound
        )
    return logged, sound(rows, [checks[u] for u in streams], blocks, unsound)


def _seals(
    stored: dict[UUID, list[Notification]], checks: dict[UUID, StreamCheck], events: list[Any]
) -> list[bytes | None]:
    """Each event's seal as stored, where it recomputed (`Checked.seals`)."""
    sealed = {
        (u, e.version): bytes(n.state)[len(MAGIC) : HEADER_BYTES]
        for u, stream in stored.items()
        for n, e in zip(stream, checks[u].events, strict=True)
        if e.ok
    }
    return [sealed.get((e.originator_id, e.originator_version)) for _, e in events]


def recorded_by(checked: Checked, as_of: datetime | None) -> int | None:
    """How many events were recorded by `as_of`, when they are the record's first ones
    (None when a later-recorded time comes earlier in the record: the full path words it)."""
    if as_of is None:
        return len(checked.stamps)
    by = [at <= as_of for at in checked.stamps]
    count = sum(by)
    return count if all(by[:count]) else None


def before(index: int) -> int:
    """The checkpoint at or before the event just before `index` (-1: nothing projected)."""
    return (index // STEP) * STEP - 1


def answer(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    checked: Checked,
    as_of: datetime | None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    decoded_now: Callable[[list[int]], dict[int, Any] | None] | None = None,
    *,
    directory: dict[tuple[str, str], Doc | None] | None = None,
) -> dict[str, Any] | None:
    """The page from `checked`, its rows (and those to project them from) read and checked
    again unless `decoded_now` gives them (the events `checked` was just made from, by
    index; None: they are not what was checked). `directory`: the directory's documents
    already read now for this page (an instant page's), read from there, not again."""
    count = recorded_by(checked, as_of)
    if not count:
        return None
    chosen, total, next_after = page.of_stamps(
        list(zip(checked.positions[:count], checked.stamps[:count], strict=True))
    )
    runs: list[tuple[int, int]] = []  # (checkpoint, last event) to project from and to
    if chosen:
        runs.append((before(chosen[0]), chosen[-1]))
    if count < len(checked.positions) and (not chosen or chosen[-1] != count - 1):
        runs.append((before(count), count - 1))
    needed = sorted({i for start, end in runs for i in range(start + 1, end + 1)})
    if decoded_now is not None:
        events = decoded_now(needed)
    else:
        events = read_again(app, checked, needed, merkle)
    if events is None:
        return None
    verdict, logged = whole_verdict(checked, count, merkle is not None)
    states: list[Any] = []
    current: Any = None
    for run, (start, end) in enumerate(runs):
        take = set(chosen) if run == 0 else set()
        memory = _project(views, checked, events, start, end, take, subject, states, directory)
        if end == count - 1:
            current = subject_state(subject, memory)
    if current is None:
        current = subject_state(subject, checked.final)
    shown = [events[i] for i in chosen]
    at = [checked.positions[i] for i in chosen]
    rows = as_rows(zip(at, shown, strict=True), zone, staff_names(views))
    # Each row's stream is its event's own `UUID` (the row's `aggregate_id` is its text:
    # `UUID(text)` back from it was Python, ~3 µs a row).
    for row, state, event in zip(rows, states, shown, strict=True):
        stream, version = event.originator_id, int(row["version"])
        row["state_after"] = state
        ok = {e.version: e.ok for e in checked.checks[stream].events}.get(version, False)
        row["sealed"] = ok and (stream, version) not in logged
    # Each stream's last seal (to compare with a later export) for the streams of the rows
    # shown: the whole record's were 1 MB of a 1.5 MB page of 10,000 heartbeats; the
    # whole record (`limit=all`) and the export carry them all.
    heads = verdict["heads"]
    check = {
        **verdict,
        "heads": {r["aggregate_id"]: heads[r["aggregate_id"]] for r in rows},
        "problems": list(verdict["problems"]),
        "checked_at": checked.checked_at,
    }
    return record_of(
        subject,
        as_of=as_of,
        state=current,
        events=rows,
        total=total,
        next_after=next_after,
        integrity=check,
    )


def whole_verdict(
    checked: Checked, count: int, logging: bool
) -> tuple[dict[str, Any], dict[tuple[UUID, int], str]]:
    """The verdict on the record's first `count` events, as the full path words it, and the
    Merkle log's problems among them; the same for every page, so made once per count."""
    made = checked.verdicts.get((count, logging))
    if made is not None:
        return made
    # The streams shown by their numbers (`UUID.int`, read in C), not their `UUID`s (a hash
    # in Python each: 10,000 a cold page as of an instant; docs/performance.md, asof6), and
    # each stream's check taken in the record's order, not looked up by its `UUID` (two
    # such hashes a stream, 5,100 streams; asof8).
    in_order = _checks_in_order(checked)
    numbers = checked.stream_keys
    shown = set(map(_INT, checked.streams[:count]))
    shown.update(compress(numbers, map(removed_whole, in_order)))
    last = checked.positions[count - 1]
    logged = {
        key: words
        for key, (words, position) in checked.logged.items()
        if key[0].int in shown and (position is None or position <= last)
    }
    check = summary(list(compress(in_order, map(shown.__contains__, numbers))), with_checks=False)
    if logging:
        check["problems"] += [
            {"aggregate_id": str(stream), "detail": detail}
            for (stream, _), detail in sorted(logged.items())
        ]
        check["verified"] = check["verified"] and not logged
    checked.verdicts[(count, logging)] = check, logged
    return check, logged


def _checks_in_order(checked: Checked) -> list[StreamCheck]:
    """The streams' checks in `stream_order`: the dictionary's own order where its keys are
    that order (as every check makes it; compared by identity first, in C), looked up
    otherwise."""
    if list(checked.checks) == checked.stream_order:
        return list(checked.checks.values())
    return [checked.checks[u] for u in checked.stream_order]


_INT = attrgetter("int")


def _project(
    views: ViewStore,
    checked: Checked,
    events: dict[int, Any],
    start: int,
    end: int,
    take: set[int],
    subject: str,
    states: list[Any],
    directory: dict[tuple[str, str], Doc | None] | None = None,
) -> Memory:
    """Project from the checkpoint `start` through event `end`, taking the states of `take`
    (the directory as it stands now: read now, or `directory`, read now for this page)."""
    memory: Memory = dict(checked.checkpoints[start]) if start >= 0 else {}
    read = directory_reader(views, memory, directory)
    for index in range(start + 1, end + 1):
        memory.update(project(events[index], read).docs)
        if index in take:
            states.append(subject_state(subject, memory))
    return memory


def read_again(
    app: Lonewatch, checked: Checked, needed: list[int], merkle: MerkleLog | None
) -> dict[int, Any] | None:
    """The `needed` events decoded from their streams read now, after those streams' seals
    and leaves are found to be what the whole check found (None: they are not)."""
    horizon = merkle.size()[1] if merkle is not None else 0
    streams = list(dict.fromkeys(checked.streams[i] for i in needed))
    stored = stream_notifications(app.recorder, streams)
    memo = stored_rows_of(app)
    if any(memo.stream_check(u, stored[u]) != checked.checks[u] for u in streams):
        return None
    wanted = set(streams)
    if merkle is not None:
        positions = {
            (u, checked.versions[i]): checked.positions[i]
            for u in streams
            for i in checked.of_stream[u]
        }
        expected = {k: w for k, (w, _) in checked.logged.items() if k[0] in wanted}
        if stream_problems(merkle, stored, positions, horizon, leaf_of=memo.leaf) != expected:
            return None
    rows = {(u, int(n.originator_version)): n for u in streams for n in stored[u]}
    to_domain_event = app.mapper.to_domain_event
    events: dict[int, Any] = {}
    for index in needed:
        row = rows.get((checked.streams[index], checked.versions[index]))
        if row is None or int(row.id) != checked.positions[index]:
            return None
        events[index] = memo.event(to_domain_event, row)
    return events
