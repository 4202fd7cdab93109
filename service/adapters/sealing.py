"""A seal on every stored event, chained to the one before it in the same stream.

When an event is stored, its state gets a short header: a magic marker and
`sha256(previous seal + originator id + version + topic + stored state)`. The
first event of a stream chains to a fixed genesis value. Verification reads the
stream's stored bytes back (no decoding, so a broken cipher or a corrupt record
still gets a verdict) and recomputes every seal: an edited, removed or moved
event breaks the chain from that point on.

The seal is computed over the bytes as stored (after compression and encryption),
so it vouches for exactly what is in the database. It is not keyed: someone who can
write the database and recompute every later seal could hide an edit; a DSL's export
carries each stream's last seal, so a record exported earlier still shows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    AggregateRecorder,
    EventStore,
    IntegrityError,
    Mapper,
    Recording,
    StoredEvent,
)

from service.adapters.event_inserts import SealedRow, insert_events
from service.adapters.quick_mapper import QuickStates
from service.adapters.seal_memo import SealMemo

MAGIC = b"LWS1"
SEAL_BYTES = 32
HEADER_BYTES = len(MAGIC) + SEAL_BYTES
GENESIS = bytes(SEAL_BYTES)


_SHA256 = hashlib.sha256
_TAILS: dict[tuple[int, str], bytes] = {}
"""What a seal hashes after the originator id, by (version, topic): the version's eight bytes,
the topic's UTF-8 and the NUL. A group's heartbeats share one (version 1, one topic)."""
_TAILS_KEPT = 4096
"""Versions and topics remembered at most: an aggregate's versions grow without end."""


def seal(previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The seal of one stored event, given the seal of the event before it in its stream:
    `sha256(previous + id + version (8 bytes, big-endian) + topic + NUL + state)`. The id's
    bytes made from its `int` (`UUID.bytes` is a Python property doing the same), the
    version's and topic's bytes remembered (tests/unit/test_seal_bytes.py)."""
    tail = _TAILS.get((version, topic))
    if tail is None:
        tail = version.to_bytes(8, "big") + topic.encode() + b"\x00"
        if len(_TAILS) < _TAILS_KEPT:
            _TAILS[version, topic] = tail
    return _SHA256(
        b"".join((previous, originator_id.int.to_bytes(16, "big"), tail, state))
    ).digest()


def split(state: bytes) -> tuple[bytes | None, bytes]:
    """(seal, the state the mapper wrote); the seal is None for an event stored unsealed."""
    if len(state) >= HEADER_BYTES and state.startswith(MAGIC):
        return state[len(MAGIC) : HEADER_BYTES], state[HEADER_BYTES:]
    return None, state


def _link(stored: StoredEvent) -> bytes:
    """What the next event in the stream chains to."""
    found, body = split(bytes(stored.state))
    # An event stored before sealing existed still anchors the chain by its content.
    return found if found is not None else hashlib.sha256(body).digest()


class SealingMapper(Mapper[UUID]):
    """Reads sealed and unsealed events alike; `SealedEventStore` adds the seals."""

    @classmethod
    def wrapping(cls, mapper: Mapper[UUID]) -> SealingMapper:
        return cls(mapper.transcoder, compressor=mapper.compressor, cipher=mapper.cipher)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        _, body = split(bytes(stored_event.state))
        return super().to_domain_event(
            StoredEvent(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                topic=stored_event.topic,
                state=body,
            )
        )


class SealedEventStore(EventStore[UUID]):
    """Seals each event as it is stored; the previous seal comes from the same batch,
    from the seals this store has seen lately (`memo`: the rows it read, the inserts it
    committed), or, failing those, from the stream's last stored event, read."""

    def __init__(
        self,
        mapper: Mapper[UUID],
        recorder: AggregateRecorder,
        *,
        before_insert: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(mapper=mapper, recorder=recorder)
        self._quick = QuickStates(mapper)
        """Stored states written as the mapper would, without its per-object hook."""
        self.before_insert = before_insert
        """Called on the saving thread just before the insert (which takes the events
        table's lock on PostgreSQL): service.adapters.alarm_priority lets alarms go first."""
        self.memo = SealMemo()
        """Fed in one place: `saw` (every read of rows that rebuilds an aggregate, this
        store's `get` and the unit of work's `load_many`) and `_insert` (after a commit)."""

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[UUID]]:
        """The library's read of a stream (the repository's), its last row's seal kept."""
        rows = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        if rows:
            self.saw(rows[0] if desc else rows[-1])
        return map(self.mapper.to_domain_event, rows)

    def saw(self, stored: StoredEvent) -> None:
        """Remember the seal of an event read from the store (so committed); the next save
        of its stream chains to it without reading it again (service.adapters.seal_memo)."""
        given = stored.originator_id
        originator_id = given if type(given) is UUID else UUID(str(given))
        self.memo.remember([(originator_id, int(stored.originator_version), _link(stored))])

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        # Keyed by the id's `.int`: a UUID's hash is a Python call, an int's is not.
        latest: dict[int, tuple[int, bytes]] = {}
        sealed: list[SealedRow] = []
        seals: list[tuple[UUID, int, bytes]] = []
        """(stream, version, seal) of each event, for the memo once they are committed."""
        state_of = self._quick.state_of
        new_row = tuple.__new__  # SealedRow(...) without its Python-level __new__
        for event in domain_events:
            quick = state_of(event)
            if quick is None:
                stored = self.mapper.to_stored_event(event)
                topic, state = stored.topic, bytes(stored.state)
            else:
                topic, state = quick
            given = event.originator_id
            originator_id = given if type(given) is UUID else UUID(str(given))
            version = int(event.originator_version)
            previous = self._previous(originator_id, version, latest)
            this = seal(previous, originator_id, version, topic, state)
            latest[originator_id.int] = (version, this)
            sealed.append(
                new_row(SealedRow, (given, event.originator_version, topic, MAGIC + this + state))
            )
            seals.append((originator_id, version, this))
        return self._insert(domain_events, sealed, seals, **kwargs)

    def _previous(
        self, originator_id: UUID, version: int, latest: dict[int, tuple[int, bytes]]
    ) -> bytes:
        in_batch = latest.get(originator_id.int)
        if in_batch is not None and in_batch[0] == version - 1:
            return in_batch[1]
        if version <= 1:
            # A new stream (every device message is one): nothing before it to read.
            return GENESIS
        known = self.memo.seal_of(originator_id, version - 1)
        if known is not None:
            # Committed, so still the stored seal of version - 1; if the stream has moved
            # on since, the store's version check refuses this save, as it would have.
            return known
        before = self.recorder.select_events(originator_id, lte=version - 1, desc=True, limit=1)
        if before:
            self.saw(before[0])
        if not before or before[0].originator_version != version - 1:
            # The stream stops short of `version - 1`: stored, this event would leave a gap,
            # and every check of the record would say events are missing. The store's own
            # version check refuses only a version already taken, so refuse here, as it does:
            # a copy held past a refused save is ahead of the store (its refused events were
            # never stored), and the caller loads afresh (`retry_on_conflict`).
            raise IntegrityError(
                f"stream {originator_id}: version {version} would follow version "
                f"{before[0].originator_version if before else 0}; the events between were "
                "never stored"
            )
        return _link(before[0])

    def _insert(
        self,
        domain_events: Sequence[DomainEventProtocol[UUID]],
        stored: list[SealedRow],
        seals: Sequence[tuple[UUID, int, bytes]],
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        from eventsourcing.persistence import Notification

        if self.before_insert is not None:
            self.before_insert()
        notification_ids = insert_events(self.recorder, stored, **kwargs)
        if not notification_ids:
            return []
        self._committed(seals, notification_ids, kwargs.get("repeatable") or ())
        # A repeated device message left out by the insert (`repeatable`) has no position:
        # it is not recorded again, so nobody is told of it.
        return [
            Recording(
                event,
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=n,
                ),
            )
            for event, s, n in zip(domain_events, stored, notification_ids, strict=True)
            if n is not None
        ]

    def _committed(
        self,
        seals: Sequence[tuple[UUID, int, bytes]],
        positions: Sequence[int | None],
        repeatable: Collection[UUID],
    ) -> None:
        """Remember the seals `put` made for events the insert just committed (it returned:
        an insert refused or rolled back raises, and nothing of it is remembered). A row
        without a position was not inserted (a repeated device message: the stored one may
        differ), and a repeatable stream is a device message, never extended: neither is
        kept."""
        self.memo.remember(
            made
            for made, n in zip(seals, positions, strict=True)
            if n is not None and made[0] not in repeatable
        )


@dataclass(frozen=True)
class EventCheck:
    version: int
    seal: str | None
    ok: bool
    problem: str | None = None


@dataclass(frozen=True)
class StreamCheck:
    """The verdict on one stream: `ok` only when every event's seal recomputes."""

    originator_id: str
    events: list[EventCheck]

    @property
    def ok(self) -> bool:
        return all(map(_OK, self.events))

    @property
    def head(self) -> str | None:
        return self.events[-1].seal if self.events else None

    def problems(self) -> list[str]:
        return [f"version {e.version}: {e.problem}" for e in self.events if e.problem]


_OK = attrgetter("ok")
_PROBLEM = attrgetter("problem")
_EVENTS = attrgetter("events")
_ID = attrgetter("originator_id")
_SEAL = attrgetter("seal")
_LAST = itemgetter(-1)
_NEW = object.__new__


def verified_stream(originator_id: str, seals: Iterable[bytes]) -> StreamCheck:
    """The check of a stream whose every seal was just recomputed and found (`seals`, in
    version order from 1): what `check_stream` makes of it, its `EventCheck`s made without
    the frozen dataclass's `__init__` (one `object.__setattr__` a field: 9 ms for the
    5,100 streams of a cold page as of an instant with no saved check to reuse, 3 this
    way; docs/performance.md, asof5), nor the `StreamCheck`'s (export11). Equal, field for
    field, to the `__init__`'s."""
    events: list[EventCheck] = []
    for version, found in enumerate(seals, 1):
        event = _NEW(EventCheck)
        event.__dict__.update(version=version, seal=found.hex(), ok=True, problem=None)
        events.append(event)
    # Made as its events are: a frozen dataclass's `__init__` sets each field through
    # `object.__setattr__` (~1.7 µs a stream, 10,000 streams a device's record cold).
    check = _NEW(StreamCheck)
    check.__dict__.update(originator_id=originator_id, events=events)
    return check


def sound_seals(
    originator_id: UUID, events: Iterable[tuple[int, str, bytes | memoryview]]
) -> list[bytes] | None:
    """Each event's seal, in order, when every one is in place and recomputes from its
    content (`events`: each event's version, topic and stored bytes, in version order); None
    at the first that is not, for `check_stream` to word. The usual stream's check, made
    without the per-event objects that wording a problem needs: one rule for every reader
    that checks seals from rows (`check_sealed`, and a cold page's `row_checks`)."""
    previous = GENESIS
    seals: list[bytes] = []
    for expected, (version, topic, stored) in enumerate(events, 1):
        state = stored if type(stored) is bytes else bytes(stored)
        if int(version) != expected or len(state) < HEADER_BYTES or not state.startswith(MAGIC):
            return None
        found = state[len(MAGIC) : HEADER_BYTES]
        if found != seal(previous, originator_id, expected, topic, state[HEADER_BYTES:]):
            return None
        seals.append(found)
        previous = found
    return seals


_VERSION_TOPIC_STATE = attrgetter("originator_version", "topic", "state")


def check_sealed(originator_id: UUID, stream: Sequence[StoredEvent]) -> StreamCheck:
    """`check_stream`, made without wording anything while every seal recomputes (a
    device's record is 10,000 one-event streams, each sealed): each check made as
    `verified_stream` makes it, not through the frozen dataclass's `__init__`. The first
    event out of place, unsealed or altered sends the whole stream to `check_stream`,
    which says why (docs/performance.md, `export6`)."""
    seals = sound_seals(originator_id, map(_VERSION_TOPIC_STATE, stream))
    if seals is None:
        return check_stream(originator_id, stream)
    return verified_stream(str(originator_id), seals)


def checks_sealed(
    streams: Iterable[tuple[UUID | int, Sequence[StoredEvent]]], names: Sequence[str] | None = None
) -> list[StreamCheck]:
    """`check_sealed` of each stream, in order. A one-event stream (a heartbeat's: a
    device's record is 10,000 of them) is checked here without the calls, iterators and
    generator `sound_seals` runs for a stream of any length (~2 µs a stream cold,
    docs/performance.md, `export11`): the same rule, its seal recomputed by `seal`; any
    other stream, or one whose seal is not in place, goes to `check_sealed`
    (tests/unit/test_check_sealed.py: the same checks either way). A stream may be keyed by
    its id's number (`UUID.int`) and named by `names`, its id's text as `str(UUID)` spells
    it (a record's index gives it: 10,000 `UUID`s told as text were ~10 ms of a printable
    export; docs/performance.md, ids12): its row's own `UUID` is then the one its seal is
    made with, when it is that number's."""
    checks: list[StreamCheck] = []
    for at, (originator_id, stream) in enumerate(streams):
        if len(stream) == 1:
            only = stream[0]
            state = only.state if type(only.state) is bytes else bytes(only.state)
            found = state[len(MAGIC) : HEADER_BYTES]
            of: UUID | None
            if isinstance(originator_id, UUID):
                of = originator_id
            else:  # by number: its row's own id, when it is that number's
                row_id = only.originator_id
                of = row_id if type(row_id) is UUID and row_id.int == originator_id else None
            if (
                of is not None
                and int(only.originator_version) == 1
                and len(state) >= HEADER_BYTES
                and state.startswith(MAGIC)
                and found == seal(GENESIS, of, 1, only.topic, state[HEADER_BYTES:])
            ):
                event = _NEW(EventCheck)
                event.__dict__.update(version=1, seal=found.hex(), ok=True, problem=None)
                check = _NEW(StreamCheck)
                check.__dict__.update(
                    originator_id=names[at] if names is not None else str(of), events=[event]
                )
                checks.append(check)
                continue
        checks.append(
            check_sealed(
                originator_id if isinstance(originator_id, UUID) else UUID(int=originator_id),
                stream,
            )
        )
    return checks


def verify_stream(recorder: AggregateRecorder, originator_id: UUID) -> StreamCheck:
    """Recompute every seal of a stream from the bytes in the database."""
    return check_stream(originator_id, recorder.select_events(originator_id))


def check_stream(originator_id: UUID, stream: Sequence[StoredEvent]) -> StreamCheck:
    """Recompute every seal of a whole stream, as read from the database, in version order."""
    previous = GENESIS
    expected_version = 1
    checks: list[EventCheck] = []
    for stored in stream:
        version = int(stored.originator_version)
        found, body = split(bytes(stored.state))
        problem = None
        if version != expected_version:
            problem = (
                f"expected version {expected_version} next, found {version}: events are missing"
            )
        recomputed = seal(previous, originator_id, version, stored.topic, body)
        if found is None:
            problem = problem or "recorded without a seal (before sealing was introduced)"
        elif found != recomputed:
            problem = problem or "its seal does not match its content: the record was altered"
        checks.append(
            EventCheck(
                version=version,
                seal=found.hex() if found is not None else None,
                ok=problem is None,
                problem=problem,
            )
        )
        previous = found if found is not None else hashlib.sha256(body).digest()
        expected_version = version + 1
    return StreamCheck(originator_id=str(originator_id), events=checks)


def summary(streams: Sequence[StreamCheck], *, with_checks: bool = True) -> dict[str, Any]:
    """For a timeline or an export: the overall verdict, each stream's last seal, the problems
    (and each event's, unless `with_checks` is False: a page of a long record words its
    rows from the checks themselves and had thrown 5,000 such dictionaries away)."""
    # The usual record (every stream has events, none has a problem) in C alone: each
    # field a `map` over the streams' events (one Python step a stream was ~4 ms of a cold
    # page as of an instant's 5,100 streams). Otherwise one pass, a stream's problems
    # worded only when one of its events has one. The same verdict either way.
    of_stream = list(map(_EVENTS, streams))
    every = list(chain.from_iterable(of_stream))
    verified = all(map(_OK, every))
    events = len(every)
    ids = map(_ID, streams)
    problems: list[dict[str, str]] = []
    if all(of_stream) and not any(map(_PROBLEM, every)):
        heads: dict[str, str | None] = dict(
            zip(ids, map(_SEAL, map(_LAST, of_stream)), strict=True)
        )
    else:
        heads = {}
        for s in streams:
            heads[s.originator_id] = s.head
            if any(map(_PROBLEM, s.events)):
                problems += [{"aggregate_id": s.originator_id, "detail": p} for p in s.problems()]
    verdict: dict[str, Any] = {
        "verified": verified,
        "streams": len(streams),
        "events": events,
        "heads": heads,
        "problems": problems,
    }
    if with_checks:
        verdict["checks"] = {
            s.originator_id: {str(e.version): e.ok for e in s.events} for s in streams
        }
    return verdict
