"""The school directory: schools (with contacts and policy), staff, devices and console users.

Imported from the directory file (INTERFACES.md section 5). Safe words and device
secrets arrive here already hashed: the domain never sees them in clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain import ids


class Role(StrEnum):
    STAFF = "staff"
    OPERATOR = "operator"
    DSL = "dsl"
    HEADTEACHER = "headteacher"
    ADMIN = "admin"
    SLT = "slt"
    """A member of the senior leadership team: a school's policy may let them authorise visits."""


CONTACT_ROLES = frozenset({"contact_centre", "dsl", "headteacher", "slt", "reception", "other"})


@dataclass(frozen=True)
class ContactSpec:
    id: str
    name: str
    role: str
    phone: str


@dataclass(frozen=True)
class SchoolSpec:
    id: str
    name: str
    timezone: str
    working_hours: str
    reception_phone: str | None
    contacts: tuple[ContactSpec, ...]
    policy: dict[str, Any]
    arc: dict[str, Any] | None = field(default=None, repr=False)
    """The alarm receiving centre (INTERFACES §9): url, account, receiver, prefix, key."""

    def as_event_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["contacts"] = [asdict(c) for c in self.contacts]
        if self.arc is None:
            del data["arc"]  # a school without an ARC records what it always did
        return data


@dataclass(frozen=True)
class StaffSpec:
    id: str
    school: str
    name: str
    phone: str | None
    safe_word: str | None = field(default=None, repr=False)  # clear; hashed before recording
    safeguarding_trained: bool = False
    """Trained in safeguarding: a school's policy may need one such visitor on every visit."""


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    kind: str
    staff: str | None
    school: str
    secret: str | None = field(default=None, repr=False)  # clear; hashed before recording
    zone: int | None = None
    """The zone an ARC is told the alarm came from (`ri`, 1-999); None: 1."""
    traccar_unique_id: str | None = None
    """Traccar's `device.uniqueId` (usually the IMEI): the device speaks its maker's protocol."""
    owntracks: str | None = None
    """The OwnTracks base topic of a phone (`owntracks/USER/DEVICE`)."""


@dataclass(frozen=True)
class UserSpec:
    username: str
    school: str | None
    role: Role
    phone: str | None = None
    """Their mobile: a colleague handing them an alert texts it (none: not texted)."""


@dataclass(frozen=True)
class Directory:
    organisation: str
    schools: tuple[SchoolSpec, ...]
    staff: tuple[StaffSpec, ...]
    devices: tuple[DeviceSpec, ...]
    users: tuple[UserSpec, ...]


class DirectoryEntry(Aggregate):
    """A school, staff member or device as last imported; `data` is the whole entry."""

    @event("Registered")
    def __init__(self, key: str, data: dict[str, Any], timestamp: datetime) -> None:
        self.key = key
        self.data = data

    @event("Updated")
    def _update(self, data: dict[str, Any], timestamp: datetime) -> None:
        self.data = data

    def update(self, data: dict[str, Any], timestamp: datetime) -> bool:
        """Record a change only when something changed, so re-imports are silent."""
        if data == self.data:
            return False
        self._update(data=data, timestamp=timestamp)
        return True

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.key)

    @property
    def school(self) -> str:
        return str(self.data.get("school") or self.data.get("id") or self.key)

    def _optional(self, name: str) -> str | None:
        value = self.data.get(name)
        return str(value) if value else None


DEFAULT_TIMEZONE: Final = "Europe/London"
"""A school's time zone when its directory entry names none: every school so far is in England."""


def timezone_of(school: Mapping[str, Any] | None) -> str:
    """The time zone a school's messages and records are told in (`timezone` in its data)."""
    return str((school or {}).get("timezone") or DEFAULT_TIMEZONE)


class School(DirectoryEntry):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.school_id(key)

    @property
    def timezone(self) -> str:
        return timezone_of(self.data)

    @property
    def policy(self) -> dict[str, Any]:
        return dict(self.data["policy"])

    @property
    def contacts(self) -> list[dict[str, str]]:
        return list(self.data["contacts"])

    @property
    def reception_phone(self) -> str | None:
        return self._optional("reception_phone")

    def contacts_with_roles(self, roles: list[str]) -> list[dict[str, str]]:
        return [c for c in self.contacts if c["role"] in roles]

    @property
    def arc(self) -> dict[str, Any] | None:
        """Where the school's red alerts go over SIA DC-09, if it has an ARC."""
        value = self.data.get("arc")
        return dict(value) if isinstance(value, dict) else None


class Staff(DirectoryEntry):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.staff_id(key)

    @property
    def phone(self) -> str | None:
        return self._optional("phone")

    @property
    def safe_word_hash(self) -> str | None:
        return self._optional("safe_word_hash")

    @property
    def safeguarding_trained(self) -> bool:
        return bool(self.data.get("safeguarding_trained"))


class Device(DirectoryEntry):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.device_id(key)

    @property
    def staff(self) -> str | None:
        return self._optional("staff")

    @property
    def secret_hash(self) -> str | None:
        return self._optional("secret_hash")

    @property
    def zone(self) -> int:
        """The device's zone at the school's ARC (`ri`); 1 unless the directory names one."""
        return int(self.data.get("zone") or 1)


DEVICE_SOURCES_KEY: Final = "all"


def device_sources_data(devices: tuple[DeviceSpec, ...] | list[DeviceSpec]) -> dict[str, Any]:
    """Which device Traccar's uniqueId and an OwnTracks topic name, as `DeviceSources` holds it."""
    return {
        "traccar": {d.traccar_unique_id: d.id for d in devices if d.traccar_unique_id},
        "owntracks": {d.owntracks: d.id for d in devices if d.owntracks},
    }


class DeviceSources(DirectoryEntry):
    """The directory's devices by the name another system gives them (INTERFACES section 8):
    one entry, so Traccar's uniqueId needs no scan and the OwnTracks link knows every topic."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.device_sources_id(key)

    def device_for(self, source: str, name: str) -> str | None:
        found = (self.data.get(source) or {}).get(name)
        return str(found) if found else None

    def names(self, source: str) -> dict[str, str]:
        return dict(self.data.get(source) or {})


class PhoneNumber(DirectoryEntry):
    """Who a number belongs to, so an inbound text finds its sender without a scan."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.phone_id(key)

    @property
    def staff(self) -> list[str]:
        return list(self.data.get("staff") or [])

    @property
    def contacts(self) -> list[dict[str, str]]:
        return list(self.data.get("contacts") or [])


class User(Aggregate):
    """A console or API login: listed in the directory file, or invited by an admin in the
    console. Passwords are set with the CLI or a one-time link, never from the file.

    `listed` is what the directory file said of the user at its last import (None for a
    user invited in the console): an import changes a user only when the file's entry
    changed since, so a role changed in the console stands until someone edits the file.
    """

    @staticmethod
    def create_id(username: str) -> UUID:
        return ids.user_id(username)

    @event("Registered")
    def __init__(
        self,
        username: str,
        school: str | None,
        role: str,
        timestamp: datetime,
        invited_by: str | None = None,
        phone: str | None = None,
    ) -> None:
        self.username = username
        self.school = school
        self.role = Role(role)
        self.phone = phone
        self.password_hash: str | None = None
        self.listed: dict[str, Any] | None = None if invited_by else _listed(school, role, phone)
        self.invited_by = invited_by
        self.disabled = False
        self.sessions_valid_from: datetime | None = None
        self.password_link: str | None = None
        self.password_link_expires: datetime | None = None

    @event("Updated")
    def _update(
        self, school: str | None, role: str, timestamp: datetime, phone: str | None = None
    ) -> None:
        """The directory file's entry, applied (only an import records this)."""
        self.school = school
        self.role = Role(role)
        self.phone = phone
        self.listed = _listed(school, role, phone)

    def listed_as(
        self, school: str | None, role: Role, timestamp: datetime, phone: str | None = None
    ) -> bool:
        """The directory file lists the user so: recorded (and applied) only when the file's
        entry changed since its last import, so a re-import never undoes a console change."""
        if self.listed == _listed(school, role.value, phone):
            return False
        self._update(school=school, role=role.value, timestamp=timestamp, phone=phone)
        return True

    @event("Changed")
    def change(
        self, by: str, school: str | None, role: str, timestamp: datetime, phone: str | None = None
    ) -> None:
        """An admin changed the user's role, school or mobile in the console. `phone` is the
        mobile as it now stands, "" for none; None leaves it (a change recorded before users
        had a mobile, or one that did not touch it). The file's next import leaves it too,
        unless the user's own entry in the file changed (`listed_as`)."""
        self.school = school
        self.role = Role(role)
        if phone is not None:
            self.phone = phone or None

    @event("Disabled")
    def disable(self, by: str, reason: str, timestamp: datetime) -> None:
        """No sign-in, session or token of the user works until enabled again."""
        self.disabled = True
        self.sessions_valid_from = timestamp

    @event("Enabled")
    def enable(self, by: str, timestamp: datetime) -> None:
        self.disabled = False

    @event("PasswordLinkIssued")
    def issue_password_link(
        self, by: str, digest: str, expires_at: datetime, reset: bool, timestamp: datetime
    ) -> None:
        """A one-time link to choose a password (only its digest kept). A reset also ends
        the old password and every session at once."""
        self.password_link = digest
        self.password_link_expires = expires_at
        if reset:
            self.password_hash = None
            self.sessions_valid_from = timestamp

    @event("PasswordSet")
    def set_password(self, password_hash: str, timestamp: datetime) -> None:
        self.password_hash = password_hash
        self.password_link = None  # a link works once, and a password set otherwise ends it

    def session_counts(self, started_at: datetime) -> bool:
        """A session counts while the user is enabled and it began after the last reset."""
        if self.disabled:
            return False
        return self.sessions_valid_from is None or started_at > self.sessions_valid_from


def _listed(school: str | None, role: str, phone: str | None) -> dict[str, Any]:
    """What the directory file said of a user; a mobile only when it gave one, so a user
    listed before users had a mobile compares the same and a re-import records nothing."""
    listed: dict[str, Any] = {"school": school, "role": role}
    if phone:
        listed["phone"] = phone
    return listed


class ApiToken(Aggregate):
    """A bearer token; its id derives from the token's hash, so lookup needs no index."""

    @staticmethod
    def create_id(digest: str) -> UUID:
        return ids.token_id(digest)

    @event("Issued")
    def __init__(self, digest: str, username: str, label: str, timestamp: datetime) -> None:
        self.username = username
        self.label = label
        self.revoked = False

    @event("Revoked")
    def revoke(self, by: str, timestamp: datetime) -> None:
        self.revoked = True
