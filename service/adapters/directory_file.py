"""Reading the directory file (INTERFACES.md section 5) into domain specs.

Every problem is reported with its line, the entry by id and position counted from 1, and
what would be accepted (`people.yaml line 14, staff "p-patel" (2nd): safe_word: ...`), all
problems at once, so a school business manager can fix the file unaided. A key the reader
does not know is refused, with the nearest known one suggested: a misspelt safety flag
(`sefeguarding_trained`) silently ignored would leave a person unmarked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from service.adapters.directory_places import join_path, line_numbers, ordinal, problems_text
from service.adapters.directory_policy import parse_arc, parse_policy
from service.adapters.directory_reader import Reader
from service.domain.people.directory import (
    CONTACT_ROLES,
    DEFAULT_TIMEZONE,
    ContactSpec,
    DeviceSpec,
    Directory,
    Role,
    SchoolSpec,
    StaffSpec,
    UserSpec,
)

_HOURS = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")


class DirectoryError(ValueError):
    """The file cannot be imported; the message lists every problem found."""


def _flag(reader: Reader, raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        reader.fail(f"{where}.{key}", f"must be true or false, got {value!r}")
        return False
    return value


def _zone(reader: Reader, raw: object, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 999:
        reader.fail(where, f"must be a whole number 1-999, got {raw!r}")
        return None
    return raw


def parse_directory(
    data: object,
    *,
    source: str | None = None,
    lines: Mapping[tuple[str | int, ...], int] | None = None,
    found: Iterable[tuple[str, str]] = (),
) -> Directory:
    """Check the parsed file and build the directory, or raise `DirectoryError` listing every
    problem. `source` (the file's name) and `lines` (from `line_numbers`) let each problem
    say where it is; `found` are problems already found in the file's text."""
    reader = Reader()
    reader.problems.extend(found)
    name = source or "the directory file"
    if not isinstance(data, dict):
        raise DirectoryError(f"{name} must be a YAML mapping with 'schools:', 'staff:' etc.")
    reader.fields(data, "directory file", "")
    schools: list[SchoolSpec] = []
    for i, raw in enumerate(reader.items(data, "schools", "")):
        where = f"schools[{i}]"
        reader.fields(raw, "school", where)
        tz = reader.text(raw, "timezone", where, required=False) or DEFAULT_TIMEZONE
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            reader.fail(f"{where}.timezone", f"{tz!r} is not a time zone like Europe/London")
        hours = reader.text(raw, "working_hours", where, required=False) or "08:00-18:00"
        if not _HOURS.match(hours):
            reader.fail(f"{where}.working_hours", f"{hours!r} must look like 08:00-18:00")
        contacts = []
        for j, c in enumerate(reader.items(raw, "contacts", f"{where}.")):
            here = f"{where}.contacts[{j}]"
            reader.fields(c, "contact", here)
            role = reader.text(c, "role", here)
            if role and role not in CONTACT_ROLES:
                reader.fail(f"{here}.role", f"must be one of: {', '.join(sorted(CONTACT_ROLES))}")
            contacts.append(
                ContactSpec(
                    id=reader.key(c, "id", here),
                    name=reader.text(c, "name", here),
                    role=role,
                    phone=reader.phone(c, "phone", here, required=True) or "",
                )
            )
        schools.append(
            SchoolSpec(
                id=reader.key(raw, "id", where),
                name=reader.text(raw, "name", where),
                timezone=tz,
                working_hours=hours,
                reception_phone=reader.phone(raw, "reception_phone", where, required=False),
                contacts=tuple(contacts),
                policy=parse_policy(reader, raw.get("policy"), f"{where}.policy"),
                arc=parse_arc(reader, raw.get("arc"), f"{where}.arc"),
            )
        )
    school_ids = {s.id for s in schools}

    def school_ref(raw: dict[str, Any], where: str, *, required: bool = True) -> str:
        value = reader.text(raw, "school", where, required=required)
        if value and value not in school_ids:
            reader.fail(f"{where}.school", f"{value!r} is not a school in this file")
        return value

    staff = []
    for i, raw in enumerate(reader.items(data, "staff", "")):
        where = f"staff[{i}]"
        reader.fields(raw, "staff", where)
        staff.append(
            StaffSpec(
                id=reader.key(raw, "id", where),
                school=school_ref(raw, where),
                name=reader.text(raw, "name", where),
                phone=reader.phone(raw, "phone", where, required=False),
                safe_word=reader.text(raw, "safe_word", where, required=False) or None,
                safeguarding_trained=_flag(reader, raw, "safeguarding_trained", where),
            )
        )
    staff_school = {s.id: s.school for s in staff}
    devices = []
    for i, raw in enumerate(reader.items(data, "devices", "")):
        where = f"devices[{i}]"
        reader.fields(raw, "device", where)
        holder = reader.text(raw, "staff", where, required=False) or None
        if holder and holder not in staff_school:
            # one cause, one message: its missing school follows from this
            reader.fail(f"{where}.staff", f"{holder!r} is not a staff member in this file")
        school = school_ref(raw, where, required=False) or staff_school.get(holder or "")
        if not school and not (holder and holder not in staff_school):
            reader.fail(f"{where}.school", "is required when the device has no staff member")
        devices.append(
            DeviceSpec(
                id=reader.key(raw, "id", where),
                kind=reader.text(raw, "kind", where, required=False) or "sos_fob",
                staff=holder,
                school=school or "",
                secret=reader.text(raw, "secret", where, required=False) or None,
                zone=_zone(reader, raw.get("zone"), f"{where}.zone"),
                traccar_unique_id=reader.text(raw, "traccar_unique_id", where, required=False)
                or None,
                owntracks=_owntracks_topic(reader, raw, where),
            )
        )
    users = []
    for i, raw in enumerate(reader.items(data, "users", "")):
        where = f"users[{i}]"
        reader.fields(raw, "user", where)
        role_text = reader.text(raw, "role", where)
        try:
            role = Role(role_text)
        except ValueError:
            reader.fail(f"{where}.role", f"must be one of: {', '.join(r.value for r in Role)}")
            role = Role.STAFF
        users.append(
            UserSpec(
                username=reader.key(raw, "username", where),
                school=school_ref(raw, where, required=role is not Role.ADMIN) or None,
                role=role,
                phone=reader.phone(raw, "phone", where, required=False),
            )
        )
    for section, key, keys in (
        ("schools", "id", [s.id for s in schools]),
        ("staff", "id", [s.id for s in staff]),
        ("devices", "id", [d.id for d in devices]),
        ("users", "username", [u.username for u in users]),
        ("devices", "traccar_unique_id", [d.traccar_unique_id or "" for d in devices]),
        ("devices", "owntracks", [d.owntracks or "" for d in devices]),
    ):
        _once_each(reader, section, key, keys)
    if reader.problems:
        raise DirectoryError(problems_text(reader.problems, data, name, source, lines))
    return Directory(
        organisation=str(data.get("organisation") or ""),
        schools=tuple(schools),
        staff=tuple(staff),
        devices=tuple(devices),
        users=tuple(users),
    )


def _owntracks_topic(reader: Reader, raw: dict[str, Any], where: str) -> str | None:
    """An OwnTracks base topic is a plain topic: no wildcards, no empty level."""
    value = reader.text(raw, "owntracks", where, required=False)
    if value and (any(ch in value for ch in "+#\x00") or "" in value.split("/")):
        reader.fail(
            f"{where}.owntracks",
            f"{value!r} must be the phone's base topic, like owntracks/sam/phone "
            "(no + or #, no empty level)",
        )
    return value or None


def _once_each(reader: Reader, section: str, key: str, values: list[str]) -> None:
    """An id (or device source) given by two entries: the later one is named, with the first."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if not value:
            continue
        if value in first:
            reader.fail(
                f"{section}[{i}].{key}",
                f"{value!r} is used more than once: the {ordinal(first[value] + 1)} entry "
                f"of {section} has it too",
            )
        else:
            first[value] = i


def load_directory(path: Path) -> Directory:
    """Read and check the file at `path`; problems name the file and their line in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"cannot read directory file {path}: {exc}") from exc
    loader = yaml.SafeLoader(text)
    loader.name = str(path)  # YAML's own messages name the file, not "<unicode string>"
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path} is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    lines, repeated = line_numbers(root) if root is not None else ({}, [])
    found = [(join_path(place), message) for place, message in repeated]
    return parse_directory(data, source=str(path), lines=lines, found=found)
