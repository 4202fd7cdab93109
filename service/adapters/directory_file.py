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

from service.adapters.arc.dc09 import check_account
from service.adapters.arc.link import Endpoint, EndpointError
from service.adapters.directory_places import join_path, line_numbers, ordinal, problems_text
from service.domain.devices.health import EXPECT_EVERY_SECONDS, OFFLINE_AFTER_SECONDS
from service.domain.near_miss import did_you_mean
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
from service.domain.phone_numbers import phone_problem
from service.domain.visits.overdue_ladder import Action
from service.domain.visits.policy import parse_visit_policy


class DirectoryError(ValueError):
    """The file cannot be imported; the message lists every problem found."""


_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
ALERT_POLICY_KINDS = (
    "sos",
    "fall",
    "duress",
    "overdue",
    "device_offline",
    "low_battery",
    "notification_failure",
    "arc_unreachable",
)
OVERDUE_ACTIONS = tuple(a.value for a in Action)

FIELDS: Mapping[str, tuple[str, ...]] = {
    "directory file": ("organisation", "schools", "staff", "devices", "users"),
    "school": (
        "id",
        "name",
        "timezone",
        "working_hours",
        "reception_phone",
        "contacts",
        "policy",
        "arc",
    ),
    "contact": ("id", "name", "role", "phone"),
    "staff": ("id", "school", "name", "phone", "safe_word", "safeguarding_trained"),
    "device": (
        "id",
        "kind",
        "staff",
        "school",
        "secret",
        "zone",
        "traccar_unique_id",
        "owntracks",
    ),
    "user": ("username", "school", "role", "phone"),
    "arc": ("url", "account", "receiver", "prefix", "key", "supervision"),
    "heartbeat": ("expect_every", "offline_after"),
    "alert policy": ("ack_within", "renotify_every", "tiers"),
    "overdue policy": ("ack_within", "renotify_every", "tiers", "grace", "steps"),
    "overdue step": ("after", "do"),
    "policy": (*ALERT_POLICY_KINDS, "heartbeat", "low_battery_below", "visits"),
}
"""The keys each kind of entry may have (INTERFACES.md section 5); any other is refused."""


def parse_duration(value: object) -> int:
    """'90s', '10m', '1h', '1h30m' -> seconds; a bare integer is seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration like 90s, 10m or 1h")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class _Reader:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        """(place as a path like `staff[1].phone`, what is wrong and what would do)"""

    def fail(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def fields(self, data: object, kind: str, where: str) -> None:
        """Refuse a key this kind of entry does not have, suggesting the nearest one."""
        if not isinstance(data, dict):
            return
        known = FIELDS[kind]
        for key in data:
            if key in known:
                continue
            article = "an" if kind[0] in "aeiou" else "a"
            hint = did_you_mean(key, known) or f"{article} {kind} entry has: {', '.join(known)}"
            self.fail(f"{where}.{key}" if where else str(key), f"unknown field; {hint}")

    def text(self, data: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{where}.{key}", "is required")
            return ""
        if not isinstance(value, str | int):
            self.fail(f"{where}.{key}", f"must be text, got {type(value).__name__}")
            return ""
        return str(value)

    def key(self, data: dict[str, Any], key: str, where: str) -> str:
        value = self.text(data, key, where)
        if value and not _KEY.match(value):
            self.fail(f"{where}.{key}", f"{value!r} must be 1-64 letters, digits, '_' or '-'")
        return value

    def phone(self, data: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
        value = self.text(data, key, where, required=required)
        if value and (problem := phone_problem(value)) is not None:
            self.fail(f"{where}.{key}", problem)
        return value or None

    def items(self, data: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{where}{key}", "must be a list of mappings")
            return []
        return value


def _policy(reader: _Reader, raw: object, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        reader.fail(where, "must be a mapping")
        return {}
    reader.fields(raw, "policy", where)
    policy: dict[str, Any] = {}
    for name, entry in raw.items():
        here = f"{where}.{name}"
        if name == "heartbeat":
            reader.fields(entry, "heartbeat", here)
            policy[name] = {
                k: _duration(reader, entry, k, here, default)
                for k, default in (
                    ("expect_every", EXPECT_EVERY_SECONDS),
                    ("offline_after", OFFLINE_AFTER_SECONDS),
                )
            }
        elif name == "low_battery_below":
            if not isinstance(entry, int) or not 0 <= entry <= 100:
                reader.fail(here, f"must be a whole number 0-100, got {entry!r}")
            else:
                policy[name] = entry
        elif name in ALERT_POLICY_KINDS:
            policy[name] = _alert_policy(reader, entry, here, overdue=name == "overdue")
        elif name == "visits":
            visit_rules, problems = parse_visit_policy(entry, here)
            for problem in problems:
                place, _, message = problem.partition(": ")
                reader.fail(place, message)
            if visit_rules:
                policy[name] = visit_rules
    return policy


def _duration(reader: _Reader, entry: object, key: str, where: str, default: int) -> int:
    if not isinstance(entry, dict) or key not in entry:
        return default
    try:
        return parse_duration(entry[key])
    except ValueError as exc:
        reader.fail(f"{where}.{key}", str(exc))
        return default


def _alert_policy(reader: _Reader, entry: object, where: str, *, overdue: bool) -> dict[str, Any]:
    if not isinstance(entry, dict):
        reader.fail(where, "must be a mapping")
        return {}
    reader.fields(entry, "overdue policy" if overdue else "alert policy", where)
    result: dict[str, Any] = {
        "ack_within": _duration(reader, entry, "ack_within", where, 60),
        "renotify_every": _duration(reader, entry, "renotify_every", where, 60),
    }
    tiers = entry.get("tiers")
    if tiers is not None:
        if not isinstance(tiers, list) or not all(
            isinstance(t, list) and t and all(r in CONTACT_ROLES for r in t) for t in tiers
        ):
            roles = ", ".join(sorted(CONTACT_ROLES))
            reader.fail(f"{where}.tiers", f"must be a list of lists of roles ({roles})")
        else:
            result["tiers"] = tiers
    if overdue:
        result["grace"] = _duration(reader, entry, "grace", where, 600)
        steps = []
        for i, step in enumerate(entry.get("steps") or []):
            here = f"{where}.steps[{i}]"
            if not isinstance(step, dict) or step.get("do") not in OVERDUE_ACTIONS:
                reader.fail(f"{here}.do", f"must be one of: {', '.join(OVERDUE_ACTIONS)}")
                continue
            reader.fields(step, "overdue step", here)
            steps.append({"after": _duration(reader, step, "after", here, 0), "do": step["do"]})
        result["steps"] = steps
    return result


def _arc(reader: _Reader, raw: object, where: str) -> dict[str, Any] | None:
    """A school's ARC (INTERFACES §9), checked as the DC-09 link will use it."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        reader.fail(
            where, "must be a mapping with url, account and optionally receiver, prefix, key"
        )
        return None
    reader.fields(raw, "arc", where)
    arc: dict[str, Any] = {
        "url": reader.text(raw, "url", where),
        "account": reader.text(raw, "account", where).upper(),
        "receiver": reader.text(raw, "receiver", where, required=False) or "R0",
        "prefix": reader.text(raw, "prefix", where, required=False) or "L0",
    }
    key = reader.text(raw, "key", where, required=False) or None
    if arc["url"]:
        try:
            Endpoint.parse(arc["url"])
        except EndpointError as exc:
            reader.fail(f"{where}.url", str(exc))
    for problem in check_account(arc["account"] or "?", arc["receiver"], arc["prefix"], key):
        reader.fail(where, problem)
    if key is not None:
        arc["key"] = key
    if raw.get("supervision") is not None:
        arc["supervision"] = max(1, _duration(reader, raw, "supervision", where, 60))
    return arc


def _flag(reader: _Reader, raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        reader.fail(f"{where}.{key}", f"must be true or false, got {value!r}")
        return False
    return value


def _zone(reader: _Reader, raw: object, where: str) -> int | None:
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
    reader = _Reader()
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
                policy=_policy(reader, raw.get("policy"), f"{where}.policy"),
                arc=_arc(reader, raw.get("arc"), f"{where}.arc"),
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


def _owntracks_topic(reader: _Reader, raw: dict[str, Any], where: str) -> str | None:
    """An OwnTracks base topic is a plain topic: no wildcards, no empty level."""
    value = reader.text(raw, "owntracks", where, required=False)
    if value and (any(ch in value for ch in "+#\x00") or "" in value.split("/")):
        reader.fail(
            f"{where}.owntracks",
            f"{value!r} must be the phone's base topic, like owntracks/sam/phone "
            "(no + or #, no empty level)",
        )
    return value or None


def _once_each(reader: _Reader, section: str, key: str, values: list[str]) -> None:
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
