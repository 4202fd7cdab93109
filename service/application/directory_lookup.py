"""The directory as the use cases read it: a device's school, staff member and time zone.

One read model, cached: devices send far more often than schools change. Emptied when the
directory is imported here (`directory_import`) or in another process (seen by the views).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.domain import ids
from service.domain.people.directory import Device, School, Staff

A = TypeVar("A", bound=Aggregate)


class Loads(Protocol):
    """What the lookup needs of the unit of work (which holds it)."""

    def load(self, aggregate_id: UUID, cls: type[A], what: str) -> A: ...

    def load_optional(self, aggregate_id: UUID, cls: type[A]) -> A | None: ...

    def load_many(self, aggregate_ids: Collection[UUID], cls: type[A]) -> dict[UUID, A]: ...


@dataclass(frozen=True)
class DeviceInfo:
    key: str
    school: str
    school_name: str
    timezone: str
    staff: str | None
    staff_name: str | None


class DirectoryLookup:
    """Thread-safe: the gateway's lanes and the timers look devices up at once."""

    def __init__(self, store: Loads) -> None:
        self._store = store
        self._devices: dict[str, DeviceInfo] = {}
        self._lock = threading.Lock()

    def device(self, device: str) -> DeviceInfo | None:
        """Directory facts about a device, or None for a device the directory does not list."""
        with self._lock:
            cached = self._devices.get(device)
        if cached is not None:
            return cached
        entry = self._store.load_optional(ids.device_id(device), Device)
        if entry is None:
            return None
        school = self.school(entry.school)
        staff = self.staff(entry.staff) if entry.staff else None
        info = DeviceInfo(
            key=device,
            school=entry.school,
            school_name=school.name,
            timezone=school.timezone,
            staff=entry.staff,
            staff_name=staff.name if staff else None,
        )
        with self._lock:
            self._devices[device] = info
        return info

    def devices(self, keys: Iterable[str]) -> None:
        """Look up every device of `keys` not known yet, in three queries in all (devices,
        their schools, their staff): a gateway meeting a fleet for the first time would
        otherwise make three queries per device before recording anything."""
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._devices))
        if not missing:
            return
        entries = self._store.load_many([ids.device_id(k) for k in missing], Device)
        schools = self._store.load_many({ids.school_id(e.school) for e in entries.values()}, School)
        staff = self._store.load_many(
            {ids.staff_id(e.staff) for e in entries.values() if e.staff}, Staff
        )
        found: dict[str, DeviceInfo] = {}
        for key in missing:
            entry = entries.get(ids.device_id(key))
            school = schools.get(ids.school_id(entry.school)) if entry is not None else None
            if entry is None or school is None:
                continue  # unknown (or half-imported): `device` answers it, one at a time
            person = staff.get(ids.staff_id(entry.staff)) if entry.staff else None
            found[key] = DeviceInfo(
                key=key,
                school=entry.school,
                school_name=school.name,
                timezone=school.timezone,
                staff=entry.staff,
                staff_name=person.name if person else None,
            )
        with self._lock:
            self._devices.update(found)

    def devices_of(self, keys: Sequence[str]) -> list[DeviceInfo | None]:
        """`device(key)` for each key, in order: those not known yet looked up together
        (`devices`), the known ones read under one taking of the lock, not one each (a
        gateway group asks for 500 at once, most of them known)."""
        self.devices(keys)
        with self._lock:
            found = list(map(self._devices.get, keys))
        for index, info in enumerate(found):
            if info is None:  # unknown, or half-imported: answered one at a time
                found[index] = self.device(keys[index])
        return found

    def school(self, key: str) -> School:
        """The school as stored now (not cached: its policy is read for every alert)."""
        return self._store.load(ids.school_id(key), School, "school")

    def staff(self, key: str) -> Staff | None:
        return self._store.load_optional(ids.staff_id(key), Staff)

    def staff_name(self, key: str | None) -> str | None:
        person = self.staff(key) if key else None
        return person.name if person else None

    def forget(self) -> None:
        """The directory changed: look everything up afresh."""
        with self._lock:
            self._devices.clear()
