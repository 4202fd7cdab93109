"""An alarm group's store reads in one query, before it is built.

Building an SOS asked the store four to five times, one after another: is the message
stored already, the device's open-alarm pointer, the staff member's whereabouts (for a
visit in the alert's cause), the school (its policy, read afresh for every alert) and the
pointer again to point it at the new alert. Each read
takes a pooled connection (tested with a round trip of its own) and, under a heartbeat
flood, waits for the interpreter between every hop: the build was the largest part of an
SOS's path (docs/performance.md, "ingest6"). Here they are read together, once; a read the
build makes that was not asked for goes to the store as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.directory_lookup import DeviceInfo, DirectoryLookup
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.devices.messages import ALARM_KINDS, DeviceReading
from service.domain.people.directory import School
from service.domain.visits.whereabouts import whereabouts_id

A = TypeVar("A", bound=Aggregate)


class GroupReads:
    """The unit of work as an alarm group's build sees it: `load_optional` and `stored` answer
    from one read of every stream the build will ask for; everything else is the unit of
    work's own. Lives for one build (a retry builds afresh, from the store)."""

    def __init__(self, uow: UnitOfWork, asked: set[UUID], found: dict[UUID, Any]) -> None:
        self._uow = uow
        self._asked = asked
        self._found = found

    @classmethod
    def fetch(cls, uow: UnitOfWork, wanted: Collection[UUID]) -> GroupReads:
        asked = set(wanted)
        return cls(uow, asked, uow.load_many(asked, Aggregate) if asked else {})

    def stored(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """As `UnitOfWork.stored`: which of these have events (asked for here, or read now)."""
        unasked = [i for i in aggregate_ids if i not in self._asked]
        found = {i for i in aggregate_ids if i in self._found}
        return found | self._uow.stored(unasked) if unasked else found

    def load_optional(self, aggregate_id: UUID, cls: type[A]) -> A | None:
        if aggregate_id not in self._asked:
            return self._uow.load_optional(aggregate_id, cls)
        found = self._found.get(aggregate_id)
        return found if isinstance(found, cls) else None

    @property
    def directory(self) -> DirectoryLookup:
        return cast(DirectoryLookup, _Directory(self._uow.directory, self._found))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def as_uow(self) -> UnitOfWork:
        """For the use cases that take a unit of work (raise_alert's visit lookup)."""
        return cast(UnitOfWork, self)


class _Directory:
    """The directory as the build sees it: the school read with the group."""

    def __init__(self, directory: DirectoryLookup, found: dict[UUID, Any]) -> None:
        self._directory = directory
        self._found = found

    def school(self, key: str) -> School:
        found = self._found.get(ids.school_id(key))
        return found if isinstance(found, School) else self._directory.school(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._directory, name)


def alarm_streams(
    readings: Iterable[tuple[DeviceReading, DeviceInfo]],
    remembered: Callable[[str, str], UUID | None],
) -> set[UUID]:
    """The streams building these alarms reads: each device's open-alarm pointer, or the
    alert itself when this process remembers which one the device's presses join
    (`remembered(device, kind)`), each staff member's whereabouts and each school. `readings`:
    each reading with its device's directory entry."""
    wanted: set[UUID] = set()
    for reading, info in readings:
        if reading.kind not in ALARM_KINDS:
            continue
        alert = remembered(reading.device_id, reading.kind)
        wanted.add(
            alert if alert is not None else ids.open_alarm_id(reading.device_id, reading.kind)
        )
        wanted.add(ids.school_id(info.school))
        if info.staff:
            wanted.add(whereabouts_id(info.staff))
    return wanted
