"""A page of a long record at the cost of its own rows (issue 12: 100 ms for a page of a
10,000-event record), with the whole record's verdict and state as before.

The whole record is checked once (`check_whole`: every stream read, its seals and
Merkle leaves checked, every event decoded and projected, with checkpoints of the
projected documents) and kept in a `RecordCache` (service/records/record_cache.py). Each
page then reads from the database only the streams of its own rows (and of the few
events between a checkpoint and its first row), checks their seals and leaves again,
and compares them with what the whole check found: any difference (an edit, a removal,
an event added since) throws the check away and makes it again, so the page never shows
its own rows other than the database holds them. What it trusts from the check: rows it
does not show, for at most `TTL_SECONDS` while the subject's index is unchanged; each
page says when that check was made (`integrity.checked_at`).

A whole record (`limit=all`), an export, and an instant that cuts the record elsewhere
than at a prefix of it (recorded times out of order) take the full path
(`incident_record`), unchanged. With no check kept, a long record's first page and any
page as of an instant answer "checking" while a worker checks the whole
(`_first_page`, `_instant_page`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from projections.collector import collector_paused
from projections.core import Doc
from projections.store import IndexEntry, ViewStore
from projections.views import project
from service.adapters.event_rows import stream_notifications
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import summary
from service.application.lonewatch import Lonewatch
from service.records import instant_cut
from service.records.checked_growth import extended
from service.records.first_page import first_page
from service.records.proofs import stream_problems
from service.records.record_cache import STEP, Checked, RecordCache
from service.records.replay import (
    Page,
    decoded,
    directory_reader,
    incident_record,
    staff_names,
    subject_state,
)
from service.records.stored_rows import stored_rows_of
from service.records.timeline import as_rows
from service.records.whole_checks import WholeChecks

Memory = dict[tuple[str, str], Doc]


def record_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    *,
    as_of: datetime | None = None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
    checks: WholeChecks | None = None,
) -> dict[str, Any]:
    """What `incident_record` answers for this page, from a checked record where one
    stands (see the module). With `checks`, the first page of a long record with none
    answers from its own rows while `checks` checks the whole (service/records/first_page.py)."""
    full = {"as_of": as_of, "merkle": merkle, "zone": zone, "page": page}
    if page.limit is None:
        return incident_record(app, views, subject, **full)  # type: ignore[arg-type]
    with collector_paused():
        entries = views.index(subject)
        checked = cache.get(subject, entries)
        fresh = checked is None
        grown = cache.grown(subject, entries) if fresh else None
        if grown is not None:
            checked = extended(app, views, grown, entries, merkle, STEP)
            fresh = checked is None
            if checked is not None:
                cache.put(subject, checked)
        if checked is None and checks is not None:
            cold = _first_page(
                app, views, subject, entries, as_of, merkle, zone, page, cache, checks
            )
            if cold is not None:
                return cold
            checks.wait(subject)  # one check in hand is waited for, not made twice
            checked = cache.get(subject, entries)
            fresh = checked is None
        if checked is None:
            checked = _checked(app, views, subject, entries, merkle, cache)
        answer = _answer(app, views, subject, checked, as_of, merkle, zone, page)
        if answer is None and not fresh:
            # The page's rows are not what was checked: check the whole record again.
            checked = _checked(app, views, subject, entries, merkle, cache)
            answer = _answer(app, views, subject, checked, as_of, merkle, zone, page)
    if answer is None:  # changing as it is read, or an instant that is no prefix
        cache.drop(subject)
        return incident_record(app, views, subject, **full)  # type: ignore[arg-type]
    return answer


def _checked(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    merkle: MerkleLog | None,
    cache: RecordCache,
) -> Checked:
    checked = check_whole(app, views, subject, entries, merkle, cache.monotonic())
    cache.put(subject, checked)
    return checked


def _first_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    as_of: datetime | None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
    checks: WholeChecks,
) -> dict[str, Any] | None:
    """A long record's first page from its own rows, the whole check handed to `checks`
    (None: not a first page, a short record, an instant or a `from`, or the worker full)."""
    assert page.limit is not None
    if len(entries) <= checks.inline_up_to:
        return None
    if as_of is not None:
        answer = _instant_page(app, views, subject, entries, as_of, merkle, zone, page, cache)
        if answer is not None and "checking" not in answer["integrity"]:
            return answer  # the instant was near the end: the whole record was checked
    elif page.since is None and entries and page.after < entries[0].position:
        answer = first_page(
            app, views, subject, entries, merkle=merkle, zone=zone, limit=page.limit
        )
    else:
        return None
    if answer is None:
        return None

    def whole() -> None:
        with collector_paused():
            _checked(app, views, subject, views.index(subject), merkle, cache)

    # Handed over once the page is made: the two would share one interpreter's lock.
    return answer if checks.start(subject, whole) else None


def _instant_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    as_of: datetime,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
) -> dict[str, Any] | None:
    """A page as of `as_of` from the events recorded by then alone (and `MARGIN` after, to
    be sure of the instant's place), read, checked and projected as the whole check does;
    the verdict on them alone, "checking" (see service/records/instant_cut.py). None: the
    instant is not where its few rows said, or nothing was recorded by then. An instant
    whose events are most of the record checks all of it (kept, verdict given): checking
    the rest again in the background would cost more than reading it now."""
    place = instant_cut.place_of(app, entries, as_of)
    if not place:
        return None
    read = entries[: place + instant_cut.MARGIN]
    if len(read) >= len(entries) * instant_cut.WHOLE_FROM:
        read = entries
    prefix, events = _check(app, views, subject, read, merkle, cache.monotonic())
    if _recorded_by(prefix, as_of) != place:
        return None
    if len(read) == len(entries):
        cache.put(subject, prefix)
    answer = _answer(app, views, subject, prefix, as_of, merkle, zone, page, events)
    if answer is None or len(read) == len(entries):
        return answer
    check = answer["integrity"]
    # Known: an altered event the answer was made from. Not known yet: the rest.
    check["verified"] = None if check["verified"] else False
    check["checked_at"] = None
    check["checking"] = True
    return answer


def check_whole(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: Sequence[IndexEntry],
    merkle: MerkleLog | None,
    monotonic: float,
) -> Checked:
    """The whole record read, verified, decoded and projected once (as the full path does)."""
    return _check(app, views, subject, entries, merkle, monotonic)[0]


def _check(
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
    positions = {(e.originator_id, e.originator_version): p for p, e in events}
    logged: dict[tuple[UUID, int], tuple[str, int | None]] = {}
    if merkle is not None:
        found = stream_problems(merkle, stored, positions, horizon, leaf_of=memo.leaf)
        for key, words in found.items():
            logged[key] = (words, positions.get(key))
    memory: Memory = {}
    read = directory_reader(views, memory)
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
    )
    return checked, [event for _, event in events]


def _recorded_by(checked: Checked, as_of: datetime | None) -> int | None:
    """How many events were recorded by `as_of`, when they are the record's first ones
    (None when a later-recorded time comes earlier in the record: the full path words it)."""
    if as_of is None:
        return len(checked.stamps)
    by = [at <= as_of for at in checked.stamps]
    count = sum(by)
    return count if all(by[:count]) else None


def _before(index: int) -> int:
    """The checkpoint at or before the event just before `index` (-1: nothing projected)."""
    return (index // STEP) * STEP - 1


def _answer(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    checked: Checked,
    as_of: datetime | None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    decoded_now: list[Any] | None = None,
) -> dict[str, Any] | None:
    """The page from `checked`, its rows (and those to project them from) read and checked
    again unless `decoded_now` has them (the events `checked` was just made from)."""
    count = _recorded_by(checked, as_of)
    if not count:
        return None
    chosen, total, next_after = page.of_stamps(
        list(zip(checked.positions[:count], checked.stamps[:count], strict=True))
    )
    runs: list[tuple[int, int]] = []  # (checkpoint, last event) to project from and to
    if chosen:
        runs.append((_before(chosen[0]), chosen[-1]))
    if count < len(checked.positions) and (not chosen or chosen[-1] != count - 1):
        runs.append((_before(count), count - 1))
    needed = sorted({i for start, end in runs for i in range(start + 1, end + 1)})
    if decoded_now is not None:
        events: dict[int, Any] | None = {i: decoded_now[i] for i in needed}
    else:
        events = _read_again(app, checked, needed, merkle)
    if events is None:
        return None
    verdict, logged = whole_verdict(checked, count, merkle is not None)
    states: list[Any] = []
    current: Any = None
    for run, (start, end) in enumerate(runs):
        take = set(chosen) if run == 0 else set()
        memory = _project(views, checked, events, start, end, take, subject, states)
        if end == count - 1:
            current = subject_state(subject, memory)
    if current is None:
        current = subject_state(subject, checked.final)
    rows = as_rows([(checked.positions[i], events[i]) for i in chosen], zone, staff_names(views))
    for row, state in zip(rows, states, strict=True):
        stream, version = UUID(row["aggregate_id"]), int(row["version"])
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
    kind, _, key = subject.partition(":")
    return {
        "subject": {kind: key},
        "as_of": as_of,
        "state": current,
        "events": rows,
        "total": total,
        "next_after": next_after,
        "integrity": check,
    }


def whole_verdict(
    checked: Checked, count: int, logging: bool
) -> tuple[dict[str, Any], dict[tuple[UUID, int], str]]:
    """The verdict on the record's first `count` events, as the full path words it, and the
    Merkle log's problems among them; the same for every page, so made once per count."""
    made = checked.verdicts.get((count, logging))
    if made is not None:
        return made
    shown = set(checked.streams[:count])
    last = checked.positions[count - 1]
    logged = {
        key: words
        for key, (words, position) in checked.logged.items()
        if key[0] in shown and (position is None or position <= last)
    }
    check = summary([checked.checks[u] for u in checked.stream_order if u in shown])
    check.pop("checks")
    if logging:
        check["problems"] += [
            {"aggregate_id": str(stream), "detail": detail}
            for (stream, _), detail in sorted(logged.items())
        ]
        check["verified"] = check["verified"] and not logged
    checked.verdicts[(count, logging)] = check, logged
    return check, logged


def _project(
    views: ViewStore,
    checked: Checked,
    events: dict[int, Any],
    start: int,
    end: int,
    take: set[int],
    subject: str,
    states: list[Any],
) -> Memory:
    """Project from the checkpoint `start` through event `end`, taking the states of `take`."""
    memory: Memory = dict(checked.checkpoints[start]) if start >= 0 else {}
    read = directory_reader(views, memory)
    for index in range(start + 1, end + 1):
        memory.update(project(events[index], read).docs)
        if index in take:
            states.append(subject_state(subject, memory))
    return memory


def _read_again(
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
