"""The unit of work every use case receives: load, load_optional, save, retry on conflict.

One atomic, sealed save per command; every "now" from the injected clock. Synchronous by
design (the event store is); the async adapters call it from worker threads. Use cases take
this object, never the `Lonewatch` facade, so no use case imports the facade and the facade
imports them all without a cycle. `directory` is the read model of schools, devices and
staff (as cosmicpython's unit of work carries its repositories).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, Mapper, Recording

from service.adapters import sealing as integrity
from service.adapters.event_inserts import existing_originators
from service.adapters.event_streams import load_aggregates
from service.adapters.stored_topics import register_moved_topics
from service.application.directory_lookup import DirectoryLookup
from service.clock import Clock
from service.domain.errors import NotFound

A = TypeVar("A", bound=Aggregate)


class Contended(IntegrityError):
    """Another writer kept changing the same record; nothing was saved.

    Still an IntegrityError, so background work (the dispatcher) keeps retrying it;
    the HTTP layer answers 409 and asks the person to try again."""


class UnitOfWork(Application[UUID]):
    name = "lonewatch"

    def __init__(
        self,
        env: dict[str, str],
        clock: Clock,
        *,
        before_insert: Callable[[], object] | None = None,
    ) -> None:
        """`before_insert`: called on the saving thread just before each insert
        (`SealedEventStore`)."""
        self._before_insert = before_insert  # read by construct_event_store, during super()
        super().__init__(env)
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []
        self.directory = DirectoryLookup(self)
        """Schools, devices and staff as the use cases need them: one cached read model."""

    def construct_mapper(self) -> Mapper[UUID]:
        register_moved_topics()  # stores written before issue 11's move name old modules
        return integrity.SealingMapper.wrapping(super().construct_mapper())

    def construct_event_store(self) -> EventStore[UUID]:
        """Every stored event is sealed and chained to the one before it (service.adapters.sealing)."""
        self.sealed = integrity.SealedEventStore(
            mapper=self.mapper, recorder=self.recorder, before_insert=self._before_insert
        )
        return self.sealed

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called (on the saving thread) after every commit: wakes projections at once."""
        self._listeners.append(listener)

    def save(
        self,
        *objs: Any,
        committed: Callable[[list[Recording[UUID]]], None] | None = None,
        repeatable: Collection[UUID] = (),
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """`committed`: told what was recorded before the listeners are woken, so a follower
        handed the events (device_intake.py) has them when it wakes, and need not read.
        `repeatable`: new streams that may be stored already (repeated device messages); if
        so they are left out of the recordings returned, not refused (`insert_events`)."""
        if repeatable:
            kwargs["repeatable"] = repeatable
        recordings = super().save(*objs, **kwargs)
        if committed is not None:
            committed(recordings)
        for listener in self._listeners:
            listener()
        return recordings

    def load(self, aggregate_id: UUID, cls: type[A], what: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def load_optional(self, aggregate_id: UUID, cls: type[A]) -> A | None:
        try:
            return self.load(aggregate_id, cls, cls.__name__)
        except NotFound:
            return None

    def load_many(self, aggregate_ids: Collection[UUID], cls: type[A]) -> dict[UUID, A]:
        """Those of these aggregates that exist and are a `cls`, in one query."""
        found = load_aggregates(self.recorder, self.mapper, aggregate_ids, saw=self.sealed.saw)
        return {key: agg for key, agg in found.items() if isinstance(agg, cls)}

    def retry_on_conflict(
        self, attempt: Callable[[], Sequence[Aggregate]], tries: int = 10
    ) -> None:
        """Run load-decide-save again when another writer saved the same aggregate first.

        An SOS alert is written by several hands at once (the dispatcher recording each
        message, the ladder, a person taking it), so conflicts come in bursts: back off a
        little, with jitter, and if the aggregate is still contended say so plainly.
        """
        for remaining in range(tries - 1, -1, -1):
            changed = attempt()
            try:
                self.save(*changed)
                return
            except IntegrityError:
                if not remaining:
                    raise Contended(
                        "someone else changed this at the same moment; please try again"
                    ) from None
                time.sleep(random.uniform(0.005, 0.02) * (tries - remaining))

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    def stored(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """Which of these aggregates already have events, in one query (a batch's duplicate
        alarms and texts, which must know before they build; a plain reading learns it from
        its insert: `save(repeatable=...)`)."""
        return existing_originators(self.recorder, aggregate_ids)
