"""What a device sent: the reading as the gateway parsed it, and the message as recorded.

`DeviceReading` is the parsed message the intake takes (device_gateway/messages.py makes it
from topic and bytes); `DeviceMessage` is what the intake records: immutable, one
aggregate per message.

One aggregate per message (rather than one growing stream per device) keeps
recording a heartbeat an insert, never a reload, and lets a message that
carried an `id` collide with its own repeat on the store's uniqueness constraint.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from service.domain.ids import device_message_id

ALARM_KINDS: Final = frozenset({"sos", "fall"})
"""The device kinds that raise an alarm (INTERFACES section 2). The gateway routes them to
their own session and lane; the intake raises their alert; the views count them."""

CLOCK_SKEW_TOLERANCE_SECONDS: Final = 300.0
"""How far a device's `ts` may stray from our receipt time before it is flagged."""


@dataclass(frozen=True, init=False)
class DeviceReading:
    """One accepted device message; every payload field is optional (None when absent).

    Made once for every message a device sends: `__init__` is written out rather than
    generated, since a frozen dataclass's sets each of its twelve fields through
    `object.__setattr__` (twice the cost of the rest of making it). Still frozen after."""

    device_id: str
    kind: str
    msg_id: str | None
    device_ts: datetime | None
    lat: float | None
    lon: float | None
    acc: float | None
    battery: int | None
    text: str | None
    seq: int | None
    rejected_fields: dict[str, str] = field(default_factory=dict)
    """Fields dropped, and why: an alarm's optional fields that failed validation, or any
    kind's `id` that another message of the device was stored under (`without_reused_id`)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What another system said beside the reading, recorded with it: where it came from
    (`source`), its own ids, an address (Traccar, OwnTracks: docs/devices.md)."""

    def __init__(
        self,
        device_id: str,
        kind: str,
        msg_id: str | None,
        device_ts: datetime | None,
        lat: float | None,
        lon: float | None,
        acc: float | None,
        battery: int | None,
        text: str | None,
        seq: int | None,
        rejected_fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """As the dataclass's own would (None for either dict: a new empty one)."""
        vars(self).update(
            device_id=device_id,
            kind=kind,
            msg_id=msg_id,
            device_ts=device_ts,
            lat=lat,
            lon=lon,
            acc=acc,
            battery=battery,
            text=text,
            seq=seq,
            rejected_fields={} if rejected_fields is None else rejected_fields,
            extra={} if extra is None else extra,
        )


def without_reused_id(reading: DeviceReading) -> DeviceReading:
    """The reading to record as a new message when its `id` is another message's (a counter
    restarted at a reboot, or one counter per kind): a repeat is the same message, so this
    one must not be taken for the other's repeat. The `id` is dropped and listed under
    `rejected_fields`, the gateway's rule for an alarm's `id` that cannot be stored, so a
    person reading the message sees what the device sent and why it was set aside."""
    reason = (
        f"field 'id' {reading.msg_id!r} was used before by another message from this device "
        f"(not a {reading.kind}, or an alarm whose alert it cannot name): recorded as a new "
        "message, without it; give every message its own id"
    )
    return replace(reading, msg_id=None, rejected_fields={**reading.rejected_fields, "id": reason})


def is_repeat_of(reading: DeviceReading, kind: str) -> bool:
    """Whether a reading is a repeat of a message of `kind` stored (or met earlier in its group)
    under the same device and `id`. A repeat is the same message: at least the same kind. Its
    other fields are not compared, since a device may refresh them when it repeats an alarm
    (and a fact's repeat is found by its insert, with nothing read back to compare)."""
    return reading.kind == kind


def clock_skew_seconds(
    device_ts: datetime | None,
    received_at: datetime,
    tolerance: float = CLOCK_SKEW_TOLERANCE_SECONDS,
) -> float | None:
    """How far the device's clock is from ours (positive: ahead), when beyond `tolerance`.

    The message is kept either way: our receipt time is authoritative, the flag
    tells a person the device's clock (or its buffering) needs looking at.
    """
    if device_ts is None:
        return None
    skew = (device_ts - received_at).total_seconds()
    return round(skew, 3) if abs(skew) > tolerance else None


class DeviceMessage(Aggregate):
    @staticmethod
    def create_id(device: str, message_id: str | None) -> UUID:
        """A message with an `id` gets an id of its own making; one without is always new."""
        return device_message_id(device, message_id) if message_id else uuid4()

    @event("Received")
    def __init__(
        self,
        device: str,
        kind: str,
        message_id: str | None,
        device_ts: datetime | None,
        fields: dict[str, Any],
        school: str,
        staff: str | None,
        timestamp: datetime,
    ) -> None:
        self.device = device
        self.kind = kind
        self.message_id = message_id
        self.device_ts = device_ts
        self.fields = fields
        self.school = school
        self.staff = staff
        self.received_at = timestamp


FACT_KINDS: Final = frozenset({"heartbeat", "checkin", "battery", "location"})
"""Readings that are facts and nothing more: recorded, never asked to decide anything."""

_MESSAGE_TOPIC: Final = "service.domain.devices.messages:DeviceMessage"


_RECEIVED: Final[type[Aggregate.Created]] = DeviceMessage.Received  # type: ignore[attr-defined]
_NEW: Final = object.__new__
_SET: Final = object.__setattr__


def received(
    message_id: UUID,
    *,
    device: str,
    kind: str,
    msg_id: str | None,
    device_ts: datetime | None,
    fields: dict[str, Any],
    school: str,
    staff: str | None,
    timestamp: datetime,
) -> Aggregate.Created:
    """The event `DeviceMessage(...)` records, made without the aggregate around it.

    A heartbeat is a fact, not an entity with behaviour: building an aggregate only to
    collect its one event cost more than the rest of recording it. The stored event is the
    same, field for field (tests/unit/test_device_facts.py), so it loads as any other.
    The event is made as its frozen dataclass's `__init__` would make it (its fields in
    their declared order), without setting eleven fields one `object.__setattr__` at a
    time; its one check (the originator id is a UUID: eventsourcing's
    `DomainEvent.__post_init__`) is made here. tests/unit/test_device_facts.py fails if the
    library's event changes shape.
    """
    if not isinstance(message_id, UUID):
        raise TypeError(
            f"{_RECEIVED} was initialized with a non-UUID originator_id: {message_id!r}"
        )
    created: Aggregate.Created = _NEW(_RECEIVED)
    # Its attributes given whole: one dict, built once (not made as keywords and copied).
    _SET(
        created,
        "__dict__",
        {
            "originator_id": message_id,
            "originator_version": 1,
            "timestamp": timestamp,
            "originator_topic": _MESSAGE_TOPIC,
            "device": device,
            "kind": kind,
            "message_id": msg_id,
            "device_ts": device_ts,
            "fields": fields,
            "school": school,
            "staff": staff,
        },
    )
    return created
