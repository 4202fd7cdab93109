"""A save chains to the seal its unit of work has just read, without reading it again, and
a seal is remembered only once it is committed (service/adapters/seal_memo.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from service.adapters.event_store import eventsourcing_env
from service.adapters.sealing import check_stream
from service.application.unit_of_work import UnitOfWork
from service.clock import FakeClock


class Tally(Aggregate):
    """A stream to extend: each `count` is one more event."""

    def __init__(self) -> None:
        self.total = 0

    @event("Counted")
    def count(self, by: int) -> None:
        self.total += by


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWork]:
    opened = UnitOfWork(eventsourcing_env(database_url), FakeClock())
    yield opened
    opened.close()


def counting(uow: UnitOfWork) -> list[tuple[Any, ...]]:
    """Every `select_events` the recorder is asked from now on (the seal's own read is one)."""
    calls: list[tuple[Any, ...]] = []
    recorder: Any = uow.recorder
    original: Callable[..., Any] = recorder.select_events

    def select_events(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    recorder.select_events = select_events
    return calls


def chain_holds(uow: UnitOfWork, originator_id: UUID) -> bool:
    return check_stream(originator_id, uow.recorder.select_events(originator_id)).ok


def a_tally(uow: UnitOfWork, counts: int = 0) -> UUID:
    tally = Tally()
    for _ in range(counts):
        tally.count(by=1)
    uow.save(tally)
    return tally.id


def test_a_save_after_a_load_reads_the_stream_once(uow: UnitOfWork) -> None:
    """The load's read holds the seal the save chains to (main: a second read, the seal's)."""
    tally_id = a_tally(uow)
    calls = counting(uow)
    tally = uow.load(tally_id, Tally, "tally")
    tally.count(by=2)
    uow.save(tally)
    assert len(calls) == 1
    assert chain_holds(uow, tally_id)


def test_a_save_after_load_many_asks_the_recorder_nothing(uow: UnitOfWork) -> None:
    """`load_many` reads rows in one query of its own; the save needs no read after it."""
    ids = [a_tally(uow), a_tally(uow, counts=3)]
    calls = counting(uow)
    found = uow.load_many(ids, Tally)
    for tally in found.values():
        tally.count(by=1)
    uow.save(*found.values())
    assert calls == []
    assert all(chain_holds(uow, i) for i in ids)


def test_a_second_save_of_the_same_aggregate_chains_to_the_first(uow: UnitOfWork) -> None:
    """An insert that committed is remembered: saving again needs no read."""
    tally = uow.load(a_tally(uow), Tally, "tally")
    tally.count(by=1)
    uow.save(tally)
    calls = counting(uow)
    tally.count(by=1)
    uow.save(tally)
    assert calls == []
    assert chain_holds(uow, tally.id)


def test_a_stale_seal_only_gets_the_save_refused(database_url: str, uow: UnitOfWork) -> None:
    """Another process extends the stream after this one read it: this one's save, chained
    to the seal it remembers, is refused by the store's version check, and the chain holds."""
    tally_id = a_tally(uow)
    mine = uow.load(tally_id, Tally, "tally")
    other = UnitOfWork(eventsourcing_env(database_url), FakeClock())
    try:
        theirs = other.load(tally_id, Tally, "tally")
        theirs.count(by=5)
        other.save(theirs)
    finally:
        other.close()
    mine.count(by=1)
    with pytest.raises(IntegrityError):
        uow.save(mine)
    assert chain_holds(uow, tally_id)
    again = uow.load(tally_id, Tally, "tally")
    again.count(by=1)
    uow.save(again)
    assert again.version == 3 and chain_holds(uow, tally_id)


def test_a_refused_insert_is_not_remembered(database_url: str, uow: UnitOfWork) -> None:
    """The losing writer's seal of a version another stored is never chained to: its
    aggregate, one ahead of the store after the refusal, saves against the stored event."""
    tally_id = a_tally(uow)
    mine = uow.load(tally_id, Tally, "tally")
    other = UnitOfWork(eventsourcing_env(database_url), FakeClock())
    try:
        theirs = other.load(tally_id, Tally, "tally")
        theirs.count(by=5)
        other.save(theirs)
    finally:
        other.close()
    mine.count(by=1)
    with pytest.raises(IntegrityError):
        uow.save(mine)  # version 2, refused: another's version 2 is stored
    assert uow.sealed.memo.seal_of(tally_id, 2) is None
    mine.count(by=1)
    uow.save(mine)  # version 3 goes in after theirs: it must chain to theirs
    assert chain_holds(uow, tally_id)


def test_a_refused_batch_remembers_none_of_its_events(uow: UnitOfWork) -> None:
    """One stale aggregate refuses the whole save; the fresh one's event was not stored."""
    fresh_id, stale_id = a_tally(uow), a_tally(uow)
    fresh = uow.load(fresh_id, Tally, "tally")
    stale = uow.load(stale_id, Tally, "tally")
    ahead = uow.load(stale_id, Tally, "tally")
    ahead.count(by=1)
    uow.save(ahead)
    fresh.count(by=1)
    stale.count(by=1)
    with pytest.raises(IntegrityError):
        uow.save(fresh, stale)
    assert uow.sealed.memo.seal_of(fresh_id, 2) is None
    assert uow.sealed.memo.seal_of(fresh_id, 1) is not None


def test_writers_on_many_threads_keep_every_chain(uow: UnitOfWork) -> None:
    """Load, count, save, again on conflict, from four threads at once on three streams."""
    ids = [a_tally(uow) for _ in range(3)]
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                tally_id = ids[(n + i) % len(ids)]

                def attempt(tally_id: UUID = tally_id) -> list[Aggregate]:
                    tally = uow.load(tally_id, Tally, "tally")
                    tally.count(by=1)
                    return [tally]

                uow.retry_on_conflict(attempt, tries=50)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(uow.load(i, Tally, "tally").total for i in ids) == 60
    assert all(chain_holds(uow, i) for i in ids)


def test_the_memo_forgets_the_streams_remembered_least_recently() -> None:
    from service.adapters.seal_memo import SealMemo

    memo = SealMemo(streams=2)
    a, b, c = uuid4(), uuid4(), uuid4()
    memo.remember([(a, 1, b"a1"), (b, 1, b"b1")])
    memo.remember([(a, 2, b"a2"), (c, 1, b"c1")])
    assert memo.seal_of(b, 1) is None
    assert memo.seal_of(a, 2) == b"a2" and memo.seal_of(a, 1) is None
    assert memo.seal_of(c, 1) == b"c1" and len(memo) == 2
