"""Deterministic identities.

Ids derived from natural keys let the event store's uniqueness constraint do the
work of idempotency: importing the directory twice, or recording the same device
message twice, collides on the same aggregate id instead of creating a copy.
"""

from __future__ import annotations

import hashlib
from uuid import UUID, SafeUUID

NAMESPACE = UUID("6f1c2a52-8a47-4d55-9c3e-5b1d0e7a9c10")

_HASHED_NAMESPACE = hashlib.sha1(NAMESPACE.bytes, usedforsecurity=False)
_VARIANT_AND_VERSION_BITS = (0xF000 << 64) | (0xC000 << 48)
_KEEP = ~_VARIANT_AND_VERSION_BITS & ((1 << 128) - 1)
_VERSION_5 = (5 << 76) | (0x8000 << 48)
_SET_INT = UUID.__dict__["int"].__set__
_SET_SAFE = UUID.__dict__["is_safe"].__set__
"""`UUID`'s own slots, set as its `__init__` sets them (through `object.__setattr__`, which
looks each name up again on every call): the slot descriptors themselves, found once."""
_UNKNOWN = SafeUUID.unknown
_NEW = object.__new__
_FROM_BYTES = int.from_bytes


def _id(kind: str, *parts: str) -> UUID:
    """`uuid5(NAMESPACE, "kind/part/...")`, bit for bit (tests/unit/test_ids.py), at a third of
    the cost: a device message's id is derived for every heartbeat, and `UUID(bytes=...,
    version=5)` checks its arguments in Python each time."""
    digest = _HASHED_NAMESPACE.copy()
    digest.update("/".join((kind, *parts)).encode("utf-8"))
    made = _NEW(UUID)
    _SET_INT(made, _FROM_BYTES(digest.digest()[:16], "big") & _KEEP | _VERSION_5)
    _SET_SAFE(made, _UNKNOWN)
    return made


def school_id(school: str) -> UUID:
    return _id("school", school)


def staff_id(staff: str) -> UUID:
    return _id("staff", staff)


def device_id(device: str) -> UUID:
    return _id("device", device)


def user_id(username: str) -> UUID:
    return _id("user", username)


def token_id(token_hash: str) -> UUID:
    return _id("token", token_hash)


def device_sources_id(key: str) -> UUID:
    return _id("device-sources", key)


def phone_id(number: str) -> UUID:
    return _id("phone", number)


def inbound_sms_id(message_sid: str) -> UUID:
    """Twilio retries webhooks: the same MessageSid is handled once."""
    return _id("inbound-sms", message_sid)


def device_message_id(device: str, message_id: str) -> UUID:
    """The id of a device message that carried its own `id`: repeats collide here."""
    return _id("device-message", device, message_id)


def open_alarm_id(device: str, kind: str) -> UUID:
    """The pointer from a device's alarm kind to the alert its presses join (OpenAlarm)."""
    return _id("open-alarm", device, kind)


def alert_key_for_message(message_id: UUID) -> str:
    """The cause key of the alert a device message (SOS, fall) raises."""
    return f"message:{message_id}"


def alert_key_for_text(message_sid: str) -> str:
    """The cause key of the alert a staff member's text (HELP, the safe word) raises."""
    return f"sms:{message_sid}"


def alert_id(key: str) -> UUID:
    """An alert's id derives from what raised it, so the same cause never raises two."""
    return _id("alert", key)


def notification_id(alert_id: UUID, contact: str, channel: str, purpose: str) -> UUID:
    """One notification per alert (or visit), contact, channel and purpose: never sent twice.

    `purpose` says what the message is for (`first:tier2`, `reminder:3`, `fallback:<id>`,
    `taken`, `step:leave_prompt:1`), so a fallback, a reminder and a tier's first word can
    never take one another's id (a fallback once took the id its tier step needed).
    """
    return _id("notification-v2", str(alert_id), contact, channel, purpose)


def legacy_notification_id(alert_id: UUID, contact: str, channel: str, step: str) -> UUID:
    """How notification ids were derived before purposes: stored notifications keep these ids,
    so looking one of them up (a fallback's counterpart) still needs this derivation."""
    return _id("notification", str(alert_id), contact, channel, step)


def short_code(alert_id: UUID) -> str:
    """The code a person reads out or texts back (`ACK 3F9A2C`)."""
    return alert_id.hex[:6].upper()
