"""The DSL's replay: a subject as it stood at any instant, and the incident record to export.

States are rebuilt from the recorded events alone, by running the same projection
functions the live views use over the subject's events up to the instant. Facts
that change over time (a device's battery, location, counts) come only from those
events; names of schools and people come from the directory as it stands now.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from projections.collector import collector_paused
from projections.core import Doc
from projections.decoding import RowDecoder
from projections.store import ViewStore
from projections.views import project
from service.adapters.event_streams import stream_notifications
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import EventCheck, StreamCheck, summary
from service.adapters.signing import SigningKey
from service.application.lonewatch import Lonewatch
from service.records.proofs import export_proofs, stream_problems
from service.records.stored_rows import stored_rows_of
from service.records.timeline import as_rows, subject_events

_DIRECTORY_KINDS = frozenset({"school", "staff"})
_DEVICE_FACTS = ("id", "kind", "school", "staff", "staff_name")
_UNREAD: Doc = {}
"""Not read yet (a document read may be None: not in the directory); this very object,
which no view hands out, compared by identity."""


def directory_reader(
    views: ViewStore,
    memory: dict[tuple[str, str], Doc],
    seen: dict[tuple[str, str], Doc | None] | None = None,
) -> Any:
    """`read` for `project`: the subject's own documents from `memory`, the directory's as
    it stands now; `seen` collects the directory's documents read (a saved state is made
    with them: service/records/instant_page.py)."""
    # The directory as it stands now, read once per record: a heartbeat's battery reads its
    # school's threshold, and 10,000 heartbeats were 10,000 queries for the same document.
    # Shared between events as the projector's own cache shares them: views copy before
    # they change a document.
    directory: dict[tuple[str, str], Doc | None] = {} if seen is None else seen

    # Called twice per heartbeat (20,000 times for a record): one key, one look-up each.
    def read(kind: str, doc_id: str) -> Doc | None:
        key = (kind, doc_id)
        own = memory.get(key, _UNREAD)
        if own is not _UNREAD:
            return own
        if kind in _DIRECTORY_KINDS or kind == "device":
            found = directory.get(key, _UNREAD)
            if found is _UNREAD:
                found = directory[key] = directory_doc(views, kind, doc_id)
            return found
        return None

    return read


def directory_doc(views: ViewStore, kind: str, doc_id: str) -> Doc | None:
    """A directory document as a record's projection reads it now."""
    current = views.get(kind, doc_id)
    if kind == "device" and current is not None:
        # What the directory says about it, none of what it later sent.
        current = {k: current[k] for k in _DEVICE_FACTS if k in current}
    return current


def subject_state(subject: str, memory: dict[tuple[str, str], Doc]) -> dict[str, Any]:
    """An alert, device or visit is its own document; a person is the alerts about them."""
    kind, _, key = subject.partition(":")
    if kind != "staff":
        return {kind: memory.get((kind, key))}
    alerts = [d for (k, _), d in memory.items() if k == "alert" and d.get("staff") == key]
    return {"alerts": sorted(alerts, key=lambda d: d["raised_at"])}


def states_after_each(views: ViewStore, subject: str, events: list[tuple[int, Any]]) -> list[Any]:
    """For each event in order, the subject as it stood just after it."""
    return states_within(views, subject, events, range(len(events)))[0]


def states_within(
    views: ViewStore, subject: str, events: list[tuple[int, Any]], page: Container[int]
) -> tuple[list[Any], Any]:
    """The subject as it stood after each event whose index is in `page`, and as it stood
    after the last event (None when there is none). Every event is projected (a state is
    everything before it), but only the page's states are taken: a page of 500 rows out of
    10,000 events pays for 500 snapshots, not 10,000."""
    memory: dict[tuple[str, str], Doc] = {}
    read = directory_reader(views, memory)
    states = []
    for index, (_, event) in enumerate(events):
        memory.update(project(event, read).docs)
        if index in page:
            states.append(subject_state(subject, memory))
    if not events:
        return states, None
    last = len(events) - 1 in page and states
    return states, states[-1] if last else subject_state(subject, memory)


def staff_names(views: ViewStore) -> Callable[[str], str | None]:
    """A staff member's name from the directory, each looked up once per record."""
    known: dict[str, str | None] = {}

    def name(key: str) -> str | None:
        if key not in known:
            doc = views.get("staff", key)
            known[key] = str(doc["name"]) if doc and doc.get("name") else None
        return known[key]

    return name


def state_as_of(
    app: Lonewatch, views: ViewStore, subject: str, as_of: datetime | None
) -> dict[str, Any] | None:
    """The subject as it stood at `as_of` (now, when None); None when nothing was recorded by then."""
    events = subject_events(app, views, subject, as_of=as_of)
    if not events:
        return None
    state: dict[str, Any] = states_after_each(views, subject, events)[-1]
    return state


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


def record_of(
    subject: str,
    *,
    as_of: datetime | None,
    state: Any,
    events: list[dict[str, Any]],
    total: int,
    next_after: int | None,
    integrity: dict[str, Any],
) -> dict[str, Any]:
    """A record as every reading of one answers it (the full path, a page from a checked
    record, a first page while checking): the API's shape, made in one place."""
    kind, _, key = subject.partition(":")
    return {
        "subject": {kind: key},
        "as_of": as_of,
        "state": state,
        "events": events,
        "total": total,
        "next_after": next_after,
        "integrity": integrity,
    }


def while_checking(integrity: dict[str, Any]) -> dict[str, Any]:
    """The verdict on what an answer made before the whole check read: false when any of
    it is altered (known now), else null (the rest is not known yet); `checking` until
    the whole check is done (service/records/first_page.py, instant_page.py)."""
    integrity["verified"] = None if integrity["verified"] else False
    integrity["checked_at"] = None
    integrity["checking"] = True
    return integrity


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
    positions_by_stream = indexed_streams(views, subject, memo.stream_id)
    stored_streams = stream_notifications(app.recorder, list(positions_by_stream))
    # In the order asked, every stream asked for: no look-up by id (a UUID hashes in Python).
    streams = memo.stream_checks(stored_streams)
    read = _read_in_order(app, positions_by_stream, stored_streams, streams, as_of)
    events = read.events
    chosen, total, next_after = page.of(events)
    rows = as_rows([events[i] for i in chosen], zone, staff_names(views), with_data=with_data)
    states, current = states_within(views, subject, events, set(chosen) if with_states else ())
    for row, state in zip(rows, states, strict=with_states):
        row["state_after"] = state
    # The verdict is the whole record's, whichever page is shown.
    shown = read.shown
    check = summary([s for s, on in zip(streams, shown, strict=True) if on], with_checks=False)
    logged: dict[tuple[UUID, int], str] = {}
    if merkle is not None:
        shown_streams = (
            stored_streams
            if all(shown)
            else {u: s for (u, s), on in zip(stored_streams.items(), shown, strict=True) if on}
        )
        logged = stream_problems(merkle, shown_streams, read.positions, horizon, leaf_of=memo.leaf)
        check["problems"] += [
            {"aggregate_id": str(stream), "detail": detail}
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


@dataclass(frozen=True)
class Page:
    """Which rows of a record to word: those recorded at positions after `after`, at or
    after `since` (when given), at most `limit` of them (all, when None)."""

    after: int = 0
    limit: int | None = None
    since: datetime | None = None

    def of(self, events: list[tuple[int, Any]]) -> tuple[list[int], int, int | None]:
        """The page's indices into `events` (in recorded order), how many events the record
        has (from `since`), and the position to ask for the next page after (None: the last)."""
        return self.of_stamps([(position, event.timestamp) for position, event in events])

    def of_stamps(self, stamps: list[tuple[int, datetime]]) -> tuple[list[int], int, int | None]:
        """`of`, given each event's (position, recorded time)."""
        since = self.since
        wanted = [i for i, (_, at) in enumerate(stamps) if since is None or at >= since]
        total = len(wanted)
        first = bisect_right([stamps[i][0] for i in wanted], self.after)
        rest = wanted[first:]
        taken = rest if self.limit is None else rest[: self.limit]
        more = len(taken) < len(rest)
        return taken, total, stamps[taken[-1]][0] if more else None


def indexed_streams(
    views: ViewStore, subject: str, uuid: Callable[[str], UUID] = UUID
) -> dict[UUID, dict[int, int]]:
    """The subject's events by stream (in the order each stream first appears) and version:
    their positions; `uuid` makes a stream's id from its text (`StoredRows.stream_id`
    keeps them)."""
    by_text: dict[str, dict[int, int]] = {}
    for entry in views.index(subject):
        versions = by_text.get(entry.originator_id)
        if versions is None:
            versions = by_text[entry.originator_id] = {}
        versions[entry.originator_version] = entry.position
    return {uuid(text): versions for text, versions in by_text.items()}


def decoded(
    app: Lonewatch,
    positions_by_stream: dict[UUID, dict[int, int]],
    stored_streams: dict[UUID, list[Notification]],
    as_of: datetime | None,
) -> list[tuple[int, Any]]:
    """(position, event) of the subject's events recorded by `as_of`, in recorded order,
    decoded from the rows already read for their seals (`stored_streams`: every stream of
    `positions_by_stream`, as `stream_notifications` answers them)."""
    return _read_in_order(app, positions_by_stream, stored_streams, None, as_of).events


@dataclass
class _Read:
    """A record's events as `_record` reads them: what `decoded` gives, and by the way what
    the verdict needs of each (made in the one pass over the streams that decodes them)."""

    events: list[tuple[int, Any]]
    """(position, event) recorded by `as_of`, in recorded order (as `decoded`)."""
    shown: list[bool]
    """For each stream read, in order: whether any of its events is shown."""
    sealed: dict[int, bool]
    """Each shown event's position: whether its seal recomputes from its content."""
    positions: dict[tuple[UUID, int], int]
    """Each shown event's (stream, version): its position (for `stream_problems`).
    The last three are made only with the streams' checks: `decoded` needs none of them
    (for 10,000 events, kept, they took its pass from ~33 to ~45 ms)."""


def _read_in_order(
    app: Lonewatch,
    positions_by_stream: dict[UUID, dict[int, int]],
    stored_streams: dict[UUID, list[Notification]],
    checks: list[StreamCheck] | None,
    as_of: datetime | None,
) -> _Read:
    """The subject's events recorded by `as_of` (`decoded`), for streams read in the order of
    `positions_by_stream` (as `stream_notifications` answers them) and checked in that order
    (`checks`, when given: each shown event's own seal is taken from its stream's check, not
    from a dictionary keyed by texts). Each stream and each event is matched by its place,
    not looked up by its id (a UUID is hashed and compared in Python: ~60,000 calls for a
    10,000-event record). Decoded with `RowDecoder` (the mapper's very events, without its
    per-object hook) when not kept."""
    decode = RowDecoder(app.mapper)

    def to_domain_event(stored: StoredEvent) -> Any:
        return decode(
            (0, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        )

    memo = stored_rows_of(app)
    event_of = memo.event
    found: list[tuple[int, Any]] = []
    shown: list[bool] = []
    sealed: dict[int, bool] = {}
    positions: dict[tuple[UUID, int], int] = {}
    for place, ((stream, versions), (read_as, stored_events)) in enumerate(
        zip(positions_by_stream.items(), stored_streams.items(), strict=True)
    ):
        if read_as is not stream:  # not read in the order asked after all: looked up
            stored_events = stored_streams[stream]
            place = list(stored_streams).index(stream)
        checked: Sequence[EventCheck | None] = (
            checks[place].events if checks is not None else (None,) * len(stored_events)
        )
        any_shown = False
        for stored, event_check in zip(stored_events, checked, strict=True):
            version = stored.originator_version
            position = versions.get(version)
            if position is None:
                continue
            event: Any = event_of(to_domain_event, stored)
            if as_of is None or event.timestamp <= as_of:
                found.append((position, event))
                if event_check is not None:
                    sealed[position] = event_check.ok
                    positions[(stream, version)] = position
                    any_shown = True
        if checks is not None:
            shown.append(any_shown)
    found.sort(key=lambda pair: pair[0])
    return _Read(found, shown, sealed, positions)


def subject_school(app: Lonewatch, views: ViewStore, subject: str) -> str | None:
    """Which school a subject belongs to; an alert's is read from the event store (never behind)."""
    kind, _, key = subject.partition(":")
    if kind == "alert":
        return app.alert(UUID(key)).school
    doc = views.get(kind, key)
    return str(doc["school"]) if doc and doc.get("school") else None
