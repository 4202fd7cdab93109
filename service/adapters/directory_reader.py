"""How the directory file is read entry by entry (service/adapters/directory_file.py): the
keys each kind of entry may have, and a reader that collects every problem with its place
rather than stopping at the first, so a school business manager can fix the file unaided.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from service.domain.near_miss import did_you_mean
from service.domain.phone_numbers import phone_problem
from service.domain.visits.overdue_ladder import Action

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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


class Reader:
    """Collects every problem of a file with its place, so all are reported at once."""

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


def duration(reader: Reader, entry: object, key: str, where: str, default: int) -> int:
    if not isinstance(entry, dict) or key not in entry:
        return default
    try:
        return parse_duration(entry[key])
    except ValueError as exc:
        reader.fail(f"{where}.{key}", str(exc))
        return default
