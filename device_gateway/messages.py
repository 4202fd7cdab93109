"""Device MQTT messages: topic and payload in, a validated reading or a rejection out.

Pure translation (INTERFACES.md section 2): no I/O and no clock, so every rule
here is testable in one line. The paho client around it only moves bytes. The topics
(`lw/v1/dev/{device_id}/{kind}` in, `.../cmd` and `lw/v1/alerts/{school}` out, under an
optional prefix) are built and read here only, by the gateway and the simulators alike.
Each payload field's check is in `device_gateway.fields`, the reading itself in the
domain (`service.domain.devices.messages`); their names are re-exported here, where
devices and the simulators have always found them.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Final

from device_gateway.fast_payload import fast_reading
from device_gateway.fields import (
    FIELDS,
    FieldError,
    NonFinite,
    json_error,
    json_type,
    show,
    storable,
)
from device_gateway.fields import MAX_ACC_METRES as MAX_ACC_METRES
from device_gateway.fields import MAX_ID_CHARS as MAX_ID_CHARS
from device_gateway.fields import MAX_SEQ as MAX_SEQ
from device_gateway.fields import MAX_TEXT_CHARS as MAX_TEXT_CHARS
from device_gateway.fields import RejectReason as RejectReason
from device_gateway.fields import safe_text as safe_text
from service.domain.devices.messages import ALARM_KINDS as ALARM_KINDS  # re-exported for devices
from service.domain.devices.messages import (
    CLOCK_SKEW_TOLERANCE_SECONDS as CLOCK_SKEW_TOLERANCE_SECONDS,
)
from service.domain.devices.messages import DeviceReading as DeviceReading
from service.domain.devices.messages import clock_skew_seconds as clock_skew_seconds

DEVICE_KINDS: tuple[str, ...] = (
    "sos",
    "heartbeat",
    "checkin",
    "message",
    "battery",
    "location",
    "fall",
)
"""Kinds a device may publish, the last level of `lw/v1/dev/{device_id}/{kind}`."""

CMD_KIND: Final = "cmd"
"""The service's own topic level towards a device; it matches the device filter too."""

TOPIC_SHAPE: Final = "lw/v1/dev/{device_id}/{kind}"
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

MAX_PAYLOAD_BYTES: Final = 4096

# ALARM_KINDS (from the domain): for these a bad optional field is dropped (and listed),
# never a reason to refuse the alarm itself (the lead's safety decision, docs/devices.md).

# A cheap fob sends nothing but the topic for these (INTERFACES.md section 2).
EMPTY_PAYLOAD_KINDS: Final = frozenset({*ALARM_KINDS, "heartbeat", "checkin"})
_EMPTY_OK_IN_ORDER: Final = tuple(k for k in DEVICE_KINDS if k in EMPTY_PAYLOAD_KINDS)
# What the empty-payload rejection tells a device maker to send instead.
_KIND_NEEDS: Final = {
    "message": '"text"',
    "battery": '"battery"',
    "location": '"lat" and "lon"',
}
_BOM = "\ufeff"
_NEW: Final = object.__new__
_SET: Final = object.__setattr__
TOPIC_CACHE_SIZE: Final = 65_536
"""Topics whose reading is remembered (a device publishes on the same few topics all day):
bounded, so a flood of made-up topics costs memory no more than this many entries."""


# -- topics -------------------------------------------------------------------


def normalise_prefix(prefix: str) -> str:
    """`"site"` and `"site/"` both mean the `site/` namespace; `""` means none."""
    if prefix and not prefix.endswith("/"):
        return prefix + "/"
    return prefix


def device_topic_filter(prefix: str) -> str:
    """The one subscription that receives every device message (and our own `cmd`s)."""
    return f"{normalise_prefix(prefix)}lw/v1/dev/+/+"


def device_subscription(prefix: str, share_group: str = "") -> str:
    """The gateway's subscription: shared among gateways when a group is given."""
    return _shared(device_topic_filter(prefix), share_group)


def stray_topic_filters(prefix: str) -> list[str]:
    """Device topics with a level too few or too many (`lw/v1/dev/ID`, `lw/v1/dev/ID/sos/x`).

    The broker's ACL lets a device write anywhere under `lw/v1/dev/ID/#`, so without these
    a maker's wrong topic would be acknowledged by the broker and then lost without a word;
    with them it reaches the gateway and is refused as `bad_topic`, logged and counted
    (INTERFACES.md section 2). Neither overlaps `device_topic_filter`, so no message
    matches two of the session's subscriptions (Mosquitto would deliver it twice).
    """
    base = f"{normalise_prefix(prefix)}lw/v1/dev/"
    return [f"{base}+", f"{base}+/+/+/#"]


def main_subscriptions(prefix: str, share_group: str = "") -> list[str]:
    """The main session's subscriptions: every device message, and the stray topics."""
    return [
        device_subscription(prefix, share_group),
        *(_shared(topic, share_group) for topic in stray_topic_filters(prefix)),
    ]


def alarm_subscriptions(prefix: str, share_group: str = "") -> list[str]:
    """The alarm session's subscriptions: `sos` and `fall` only, so alarms have a queue
    and an in-flight window at the broker of their own (docs/gateway.md)."""
    return [
        _shared(f"{normalise_prefix(prefix)}lw/v1/dev/+/{kind}", share_group)
        for kind in sorted(ALARM_KINDS)
    ]


def _shared(topic_filter: str, share_group: str) -> str:
    if not share_group:
        return topic_filter
    if any(ch in share_group for ch in "/+#") or not share_group.strip():
        raise ValueError(f"a share group is one topic level without / + #, got {share_group!r}")
    return f"$share/{share_group}/{topic_filter}"


@functools.lru_cache(maxsize=TOPIC_CACHE_SIZE)
def topic_levels(topic: str, prefix: str = "") -> tuple[str, str] | None:
    """(device level, kind level) of a topic of the device shape, unchecked; else None.

    Cheap enough for paho's hand-off: it tells an alarm apart before any parsing, and
    names the device of a message whose payload could not be read at all. Remembered per
    topic (bounded): the same topics come again and again.
    """
    prefix = normalise_prefix(prefix)
    if not topic.startswith(prefix):
        return None
    levels = topic[len(prefix) :].split("/")
    if len(levels) != 5 or levels[:3] != ["lw", "v1", "dev"]:
        return None
    return levels[3], levels[4]


def _stray_device(topic: str, prefix: str) -> str | None:
    """The device a topic of the wrong shape names (`lw/v1/dev/ID/...`), so that the log
    line of its refusal says whose firmware to fix; None if it names none."""
    prefix = normalise_prefix(prefix)
    levels = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(levels) > 3 and levels[:3] == ["lw", "v1", "dev"] and is_device_id(levels[3]):
        return levels[3]
    return None


def is_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def device_topic(prefix: str, device_id: str, kind: str) -> str:
    """Where a device publishes a message of `kind` (any level: simulators send unknown
    kinds on purpose, and the parser refuses them)."""
    if not is_device_id(device_id):
        raise ValueError(f"device id must match [A-Za-z0-9_-]{{1,64}}, got {device_id!r}")
    return f"{normalise_prefix(prefix)}lw/v1/dev/{device_id}/{kind}"


def cmd_topic(prefix: str, device_id: str) -> str:
    """Where the service tells a device `alert_received` / `acknowledged`."""
    return device_topic(prefix, device_id, CMD_KIND)


def alerts_topic(prefix: str, school_id: str) -> str:
    """Where every change of an alert of a school is published for other systems."""
    if not school_id or any(ch in school_id for ch in "/+#\x00"):
        raise ValueError(f"school id must be one topic level without / + #, got {school_id!r}")
    return f"{normalise_prefix(prefix)}lw/v1/alerts/{school_id}"


# -- messages -----------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused; `detail` tells a device maker exactly what to fix."""

    reason: RejectReason
    detail: str
    device_id: str | None = None
    kind: str | None = None


@functools.lru_cache(maxsize=TOPIC_CACHE_SIZE)
def _checked_topic(topic: str, prefix: str) -> tuple[str, str] | Rejection | None:
    """A topic's (device id, kind), or why it is refused, or None for our `cmd` topic.
    Remembered per topic (bounded), as `topic_levels` is; a Rejection is immutable."""
    levels = topic_levels(topic, prefix)
    if levels is None:
        return Rejection(
            RejectReason.bad_topic,
            f"topic must be '{normalise_prefix(prefix)}{TOPIC_SHAPE}', got {show(topic)}",
            device_id=_stray_device(topic, prefix),
        )
    device_id, kind = levels
    if kind == CMD_KIND:
        return None
    if not is_device_id(device_id):
        return Rejection(
            RejectReason.bad_topic,
            f"device id in the topic must be 1-64 of A-Z a-z 0-9 _ -, got {show(device_id)}",
            kind=kind,
        )
    if kind not in DEVICE_KINDS:
        return Rejection(
            RejectReason.unknown_kind,
            f"kind must be one of {', '.join(DEVICE_KINDS)}, got {show(kind)}",
            device_id=device_id,
            kind=kind,
        )
    return device_id, kind


def parse_device_message(
    topic: str, payload: bytes, *, prefix: str = ""
) -> DeviceReading | Rejection | None:
    """Translate one MQTT message from a device.

    Returns None for the service's own `cmd` topic (the device filter matches it:
    ignore it, do not count it as a rejection). A leading UTF-8 byte order mark is
    tolerated, since refusing an SOS over it would help nobody.
    """
    checked = _checked_topic(topic, prefix)
    if not isinstance(checked, tuple):
        return checked  # None for our own command topic, else why the topic is refused
    device_id, kind = checked

    def reject(reason: RejectReason, detail: str) -> Rejection:
        return Rejection(reason, detail, device_id=device_id, kind=kind)

    if len(payload) > MAX_PAYLOAD_BYTES:
        return reject(
            RejectReason.oversize,
            f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes (4 KiB)",
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return reject(
            RejectReason.bad_encoding,
            f"payload must be UTF-8: {exc.reason} at byte {exc.start}",
        )
    text = text.removeprefix(_BOM)
    fast = fast_reading(device_id, kind, text)
    if fast is not None:  # the common case: every field present is valid, nothing unknown
        reading = _NEW(DeviceReading)
        _SET(reading, "__dict__", fast)  # its attributes, as `DeviceReading(...)` sets them
        return reading
    if not text.strip(" \t\r\n"):
        if kind in EMPTY_PAYLOAD_KINDS:
            return _reading(device_id, kind, {})
        return reject(
            RejectReason.bad_json,
            f"an empty payload is only valid for {', '.join(_EMPTY_OK_IN_ORDER)}; "
            f"a '{kind}' message needs a JSON object with {_KIND_NEEDS[kind]}",
        )
    try:
        data = json.loads(text, parse_constant=NonFinite)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; so are over-long integers.
        # RecursionError: deeply nested arrays fit easily in 4 KiB.
        return reject(RejectReason.bad_json, f"payload is not valid JSON: {json_error(exc)}")
    if not isinstance(data, dict):
        return reject(
            RejectReason.not_an_object,
            f"payload must be a JSON object {{...}}, got {json_type(data)}",
        )
    try:
        return _reading(device_id, kind, data)
    except FieldError as exc:
        return reject(exc.reason, str(exc))


def reading_from_fields(
    device_id: str, kind: str, data: dict[str, Any], extra: dict[str, Any] | None = None
) -> DeviceReading | Rejection:
    """A reading from fields another system gave (Traccar, OwnTracks), checked by the same
    rules as an MQTT payload (section 2): one place for what a valid field is."""
    try:
        reading = _reading(device_id, kind, data)
    except FieldError as exc:
        return Rejection(exc.reason, str(exc), device_id=device_id, kind=kind)
    if extra:
        try:
            storable("extra", extra)
        except FieldError as exc:
            return Rejection(exc.reason, str(exc), device_id=device_id, kind=kind)
        reading = replace(reading, extra=dict(extra))
    return reading


def _reading(device_id: str, kind: str, data: dict[str, Any]) -> DeviceReading:
    """Check every known field (unknown ones are ignored) and report all faults at once.

    An alarm is never refused over a bad optional field: the field is dropped and
    named in `rejected_fields`, and the alarm goes through.
    """
    values: dict[str, Any] = {}
    faults: dict[str, FieldError] = {}
    for name, check in FIELDS.items():
        value = data.get(name)
        values[name] = None
        if value is None:
            continue
        try:
            checked = check(name, value)
            storable(name, value)
            values[name] = checked
        except FieldError as exc:
            faults[name] = exc
    for name, value in data.items():
        # Unknown fields are not stored, but a payload that is not valid text anywhere
        # says the device's encoder is broken: refuse it, as any other bad field.
        if name not in FIELDS:
            try:
                storable(safe_text(name), value)
                storable(safe_text(name), name)
            except FieldError as exc:
                faults[safe_text(name)] = exc
    if faults and kind not in ALARM_KINDS:
        first = next(iter(faults.values()))
        raise FieldError("; ".join(str(f) for f in faults.values()), first.reason)
    return _made(device_id, kind, values, faults)


def _made(
    device_id: str, kind: str, values: dict[str, Any], faults: dict[str, FieldError]
) -> DeviceReading:
    """`values`: each field's checked value; a field absent or None is left out or None."""
    get = values.get
    return DeviceReading(
        device_id,
        kind,
        get("id"),
        get("ts"),
        get("lat"),
        get("lon"),
        get("acc"),
        get("battery"),
        get("text"),
        get("seq"),
        {name: str(fault) for name, fault in faults.items()} if faults else None,
    )
