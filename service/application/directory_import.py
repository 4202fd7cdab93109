"""Importing the directory file: schools, staff, devices, phone numbers and console users.

Idempotent: an unchanged entry records nothing, a changed one records `Updated`; a user
changed in the console keeps that change until the file's own entry for them changes, and
users the file does not list are never touched (`User.listed_as`); secrets
(safe words, device secrets) are stored hashed, and a hash is kept while the clear value
still matches it, so a re-import of the same file records nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from service.adapters import secrets
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.people.directory import (
    DEVICE_SOURCES_KEY,
    Device,
    DeviceSources,
    DeviceSpec,
    Directory,
    DirectoryEntry,
    PhoneNumber,
    School,
    Staff,
    User,
    device_sources_data,
)


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int


def import_directory(uow: UnitOfWork, directory: Directory) -> ImportReport:
    """One save for the whole file; the device lookup starts afresh after it."""
    now = uow.clock.now()
    created = updated = unchanged = 0
    pending: list[Aggregate] = []

    def upsert(cls: type[DirectoryEntry], key: str, data: dict[str, Any]) -> None:
        nonlocal created, updated, unchanged
        aggregate_id = cls.create_id(key)  # type: ignore[attr-defined]
        try:
            existing: DirectoryEntry = uow.repository.get(aggregate_id)
        except AggregateNotFoundError:
            pending.append(cls(key=key, data=data, timestamp=now))
            created += 1
            return
        if existing.update(data=data, timestamp=now):
            pending.append(existing)
            updated += 1
        else:
            unchanged += 1

    numbers_held: set[str] = set()
    """Numbers the entries this file lists gave before it: one it no longer gives anyone
    must stop answering as them (a mobile changed in the file may be someone else's now)."""
    for school in directory.schools:
        stored_school = uow.load_optional(ids.school_id(school.id), School)
        if stored_school is not None:
            numbers_held.update(_contact_numbers(stored_school.data))
        upsert(School, school.id, school.as_event_data())
    for person in directory.staff:
        previous = uow.load_optional(ids.staff_id(person.id), Staff)
        if previous is not None and previous.data.get("phone"):
            numbers_held.add(str(previous.data["phone"]))
        data: dict[str, Any] = {
            "school": person.school,
            "name": person.name,
            "phone": person.phone,
            "safe_word_hash": _keep_or_hash(
                person.safe_word,
                previous.safe_word_hash if previous else None,
                secrets.hash_safe_word,
                secrets.verify_safe_word,
            ),
        }
        if person.safeguarding_trained or (previous and "safeguarding_trained" in previous.data):
            # absent until first set, so entries from before it stay unchanged
            data["safeguarding_trained"] = person.safeguarding_trained
        upsert(Staff, person.id, data)
    for device in directory.devices:
        previous_device = uow.load_optional(ids.device_id(device.id), Device)
        data = {
            "school": device.school,
            "staff": device.staff,
            "kind": device.kind,
            "secret_hash": _keep_or_hash(
                device.secret,
                previous_device.secret_hash if previous_device else None,
                secrets.hash_device_secret,
                secrets.pbkdf2_verify,
            ),
        }
        for source in ("traccar_unique_id", "owntracks"):
            if getattr(device, source):  # absent, not None: old entries stay unchanged
                data[source] = getattr(device, source)
        upsert(Device, device.id, data | _zone_of(device))
    sources = device_sources_data(directory.devices)
    if any(sources.values()) or uow.exists(ids.device_sources_id(DEVICE_SOURCES_KEY)):
        upsert(DeviceSources, DEVICE_SOURCES_KEY, sources)
    owners_by_number = _phone_owners(directory)
    for number, owners in sorted(owners_by_number.items()):
        upsert(PhoneNumber, number, owners)
    for number in sorted(numbers_held - owners_by_number.keys()):
        if uow.exists(ids.phone_id(number)):
            upsert(PhoneNumber, number, {"staff": [], "contacts": []})
    for spec in directory.users:
        user = uow.load_optional(ids.user_id(spec.username), User)
        if user is None:
            pending.append(
                User(
                    username=spec.username,
                    school=spec.school,
                    role=spec.role.value,
                    timestamp=now,
                    phone=spec.phone,
                )
            )
            created += 1
        elif user.listed_as(school=spec.school, role=spec.role, timestamp=now, phone=spec.phone):
            pending.append(user)
            updated += 1
        else:
            unchanged += 1
    if pending:
        uow.save(*pending)
    uow.directory.forget()
    return ImportReport(created=created, updated=updated, unchanged=unchanged)


def _phone_owners(directory: Directory) -> dict[str, dict[str, list[Any]]]:
    """Who answers each number: staff (whose texts are commands) and contacts (who ACK)."""
    phones: dict[str, dict[str, list[Any]]] = {}
    for person in directory.staff:
        if person.phone:
            phones.setdefault(person.phone, {"staff": [], "contacts": []})["staff"].append(
                person.id
            )
    for school_spec in directory.schools:
        for contact in school_spec.contacts:
            entry = phones.setdefault(contact.phone, {"staff": [], "contacts": []})
            entry["contacts"].append(
                {
                    "school": school_spec.id,
                    "id": contact.id,
                    "name": contact.name,
                    "role": contact.role,
                }
            )
    return phones


def _contact_numbers(school_data: dict[str, Any]) -> set[str]:
    """The numbers a stored school entry gave its contacts."""
    return {str(c["phone"]) for c in school_data.get("contacts") or () if c.get("phone")}


def _zone_of(device: DeviceSpec) -> dict[str, Any]:
    """A device's ARC zone, recorded only when the directory names one (so entries written
    before zones existed are not all recorded again as changed)."""
    return {} if device.zone is None else {"zone": device.zone}


def _keep_or_hash(
    clear: str | None,
    previous_hash: str | None,
    hasher: Callable[[str], str],
    verify: Callable[[str, str], bool],
) -> str | None:
    """Keep the stored hash when the clear value still matches it, so re-imports record nothing."""
    if not clear:
        return None
    if previous_hash and verify(clear, previous_hash):
        return previous_hash
    return hasher(clear)
