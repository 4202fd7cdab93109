"""Device MQTT messages: topic and payload in, a validated reading or a rejection out.

Pure translation (INTERFACES.md section 2): no I/O and no clock, so every rule
here is testable in one line. The paho client around it only moves bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from service.domain.devices.messages import ALARM_KINDS as ALARM_KINDS  # re-exported for devices

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

MAX_PAYLOAD_BYTES: Final = 4096
MAX_ID_CHARS: Final = 128
MAX_TEXT_CHARS: Final = 1000
MAX_SEQ: Final = 2**63 - 1
"""The largest `seq`: a signed 64-bit integer, so it fits any store's BIGINT."""
MAX_ACC_METRES: Final = 20_000_000.0
"""Half the Earth's circumference: no position can be less certain than that."""
_EPOCH_MS_RANGE: Final = (-62_135_596_800_000, 253_402_300_799_999)
"""Epoch milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the dates
every store (and Python's datetime) can hold."""

# ALARM_KINDS (from the domain): for these a bad optional field is dropped (and listed),
# never a reason to refuse the alarm itself (the lead's safety decision, docs/devices.md).

CLOCK_SKEW_TOLERANCE_SECONDS: Final = 300.0
"""How far a device's `ts` may stray from our receipt time before it is flagged."""

# A cheap fob sends nothing but the topic for these (INTERFACES.md section 2).
EMPTY_PAYLOAD_KINDS: Final = frozenset({"sos", "heartbeat", "checkin", "fall"})
_EMPTY_OK_IN_ORDER: Final = tuple(k for k in DEVICE_KINDS if k in EMPTY_PAYLOAD_KINDS)
# What the empty-payload rejection tells a device maker to send instead.
_KIND_NEEDS: Final = {
    "message": '"text"',
    "battery": '"battery"',
    "location": '"lat" and "lon"',
}

_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOPIC_SHAPE = "lw/v1/dev/{device_id}/{kind}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BOM = "\ufeff"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class DeviceReading:
    """One accepted device message; every payload field is optional (None when absent)."""

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
    """Only for alarm kinds: optional fields that failed validation, and why (they were dropped)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What another system said beside the reading, recorded with it: where it came from
    (`source`), its own ids, an address (Traccar, OwnTracks: docs/devices.md)."""


class RejectReason(StrEnum):
    bad_topic = "bad_topic"
    unknown_kind = "unknown_kind"
    oversize = "oversize"
    bad_encoding = "bad_encoding"
    bad_json = "bad_json"
    not_an_object = "not_an_object"
    bad_field = "bad_field"
    """A field of the wrong type or shape (a string for a number, an empty `id`)."""
    unstorable_text = "unstorable_text"
    """A string holds a lone surrogate escape (`\\ud800`-`\\udfff`) or NUL (`\\u0000`):
    JSON parsers accept both, no store can hold them (UTF-8, PostgreSQL text)."""
    not_finite = "not_finite"
    """NaN, Infinity or a number too large for a double (`1e400`)."""
    out_of_range = "out_of_range"
    """A number outside its field's range (lat, lon, acc, battery, seq)."""
    bad_date = "bad_date"
    """A `ts` outside 0001-01-01..9999-12-31 UTC, in either form."""


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused; `detail` tells a device maker exactly what to fix."""

    reason: RejectReason
    detail: str
    device_id: str | None = None
    kind: str | None = None


class _FieldError(ValueError):
    """A payload field failed validation; the message is the Rejection detail."""

    def __init__(self, detail: str, reason: RejectReason = RejectReason.bad_field) -> None:
        super().__init__(detail)
        self.reason = reason


class _NonFinite:
    """What `NaN`, `Infinity` and `-Infinity` parse to: json.loads accepts them by default,
    and refusing the whole payload would refuse an alarm over an optional field."""

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


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


def topic_levels(topic: str, prefix: str = "") -> tuple[str, str] | None:
    """(device level, kind level) of a topic of the device shape, unchecked; else None.

    Cheap enough for paho's hand-off: it tells an alarm apart before any parsing, and
    names the device of a message whose payload could not be read at all.
    """
    prefix = normalise_prefix(prefix)
    if not topic.startswith(prefix):
        return None
    levels = topic[len(prefix) :].split("/")
    if len(levels) != 5 or levels[:3] != ["lw", "v1", "dev"]:
        return None
    return levels[3], levels[4]


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


def parse_device_message(
    topic: str, payload: bytes, *, prefix: str = ""
) -> DeviceReading | Rejection | None:
    """Translate one MQTT message from a device.

    Returns None for the service's own `cmd` topic (the device filter matches it:
    ignore it, do not count it as a rejection). A leading UTF-8 byte order mark is
    tolerated, since refusing an SOS over it would help nobody.
    """
    levels = topic_levels(topic, prefix)
    if levels is None:
        return Rejection(
            RejectReason.bad_topic,
            f"topic must be '{normalise_prefix(prefix)}{_TOPIC_SHAPE}', got {_show(topic)}",
        )
    device_id, kind = levels
    if kind == CMD_KIND:
        return None
    if not is_device_id(device_id):
        return Rejection(
            RejectReason.bad_topic,
            f"device id in the topic must be 1-64 of A-Z a-z 0-9 _ -, got {_show(device_id)}",
            kind=kind,
        )

    def reject(reason: RejectReason, detail: str) -> Rejection:
        return Rejection(reason, detail, device_id=device_id, kind=kind)

    if kind not in DEVICE_KINDS:
        return reject(
            RejectReason.unknown_kind,
            f"kind must be one of {', '.join(DEVICE_KINDS)}, got {_show(kind)}",
        )
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
    if not text.strip(" \t\r\n"):
        if kind in EMPTY_PAYLOAD_KINDS:
            return _reading(device_id, kind, {})
        return reject(
            RejectReason.bad_json,
            f"an empty payload is only valid for {', '.join(_EMPTY_OK_IN_ORDER)}; "
            f"a '{kind}' message needs a JSON object with {_KIND_NEEDS[kind]}",
        )
    try:
        data = json.loads(text, parse_constant=_NonFinite)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; so are over-long integers.
        # RecursionError: deeply nested arrays fit easily in 4 KiB.
        return reject(RejectReason.bad_json, f"payload is not valid JSON: {_json_error(exc)}")
    if not isinstance(data, dict):
        return reject(
            RejectReason.not_an_object,
            f"payload must be a JSON object {{...}}, got {_json_type(data)}",
        )
    try:
        return _reading(device_id, kind, data)
    except _FieldError as exc:
        return reject(exc.reason, str(exc))


def reading_from_fields(
    device_id: str, kind: str, data: dict[str, Any], extra: dict[str, Any] | None = None
) -> DeviceReading | Rejection:
    """A reading from fields another system gave (Traccar, OwnTracks), checked by the same
    rules as an MQTT payload (section 2): one place for what a valid field is."""
    try:
        reading = _reading(device_id, kind, data)
    except _FieldError as exc:
        return Rejection(exc.reason, str(exc), device_id=device_id, kind=kind)
    if extra:
        try:
            _storable("extra", extra)
        except _FieldError as exc:
            return Rejection(exc.reason, str(exc), device_id=device_id, kind=kind)
        reading = replace(reading, extra=dict(extra))
    return reading


def _reading(device_id: str, kind: str, data: dict[str, Any]) -> DeviceReading:
    """Check every known field (unknown ones are ignored) and report all faults at once.

    An alarm is never refused over a bad optional field: the field is dropped and
    named in `rejected_fields`, and the alarm goes through.
    """
    values: dict[str, Any] = {}
    faults: dict[str, _FieldError] = {}
    for name, check in _FIELDS.items():
        value = data.get(name)
        values[name] = None
        if value is None:
            continue
        try:
            checked = check(name, value)
            _storable(name, value)
            values[name] = checked
        except _FieldError as exc:
            faults[name] = exc
    for name, value in data.items():
        # Unknown fields are not stored, but a payload that is not valid text anywhere
        # says the device's encoder is broken: refuse it, as any other bad field.
        if name not in _FIELDS:
            try:
                _storable(safe_text(name), value)
                _storable(safe_text(name), name)
            except _FieldError as exc:
                faults[safe_text(name)] = exc
    if faults and kind not in ALARM_KINDS:
        first = next(iter(faults.values()))
        raise _FieldError("; ".join(str(f) for f in faults.values()), first.reason)
    return DeviceReading(
        device_id=device_id,
        kind=kind,
        msg_id=values["id"],
        device_ts=values["ts"],
        lat=values["lat"],
        lon=values["lon"],
        acc=values["acc"],
        battery=values["battery"],
        text=values["text"],
        seq=values["seq"],
        rejected_fields={name: str(fault) for name, fault in faults.items()},
    )


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


# -- fields -------------------------------------------------------------------


def _msg_id(name: str, value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
        raise _FieldError(
            f"field '{name}' must be a string of 1-{MAX_ID_CHARS} characters or an integer, "
            f"got {_show(value)}"
        )
    return value


def _timestamp(name: str, value: object) -> datetime:
    expected = (
        f"field '{name}' must be an ISO 8601 string with a timezone "
        "(e.g. '2025-03-01T09:30:00Z') or epoch milliseconds as an integer"
    )
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = _EPOCH_MS_RANGE
        if not low <= value <= high:
            raise _FieldError(
                f"{expected} from year 0001 to 9999; {_show(value)} is out of range",
                RejectReason.bad_date,
            )
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _FieldError(f"{expected}, got {_show(value)}") from None
        if parsed.tzinfo is None:
            # The contract asks for a timezone; a device that omits it means UTC.
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            # 9999-12-31T23:00:00-05:00 is a valid ISO string but a date past 9999 in UTC.
            raise _FieldError(
                f"{expected} from year 0001 to 9999 in UTC, got {_show(value)}",
                RejectReason.bad_date,
            ) from None
    if _non_finite(value):
        raise _FieldError(f"{expected}, got {_show(value)}", RejectReason.not_finite)
    raise _FieldError(f"{expected}, got {_show(value)}")


def _number(low: float, high: float) -> Callable[[str, object], float]:
    span = f"at least {low:g}" if high == math.inf else f"{low:g} to {high:g}"

    def check(name: str, value: object) -> float:
        wanted = f"field '{name}' must be a number {span}, got {_show(value)}"
        if _non_finite(value):
            raise _FieldError(wanted, RejectReason.not_finite)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _FieldError(wanted)
        # Compared before float(): an integer of 400 digits is out of range, not an overflow.
        if not low <= value <= high:
            raise _FieldError(wanted, RejectReason.out_of_range)
        return float(value)

    return check


def _integer(low: int, high: int, span: str) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        wanted = f"field '{name}' must be an integer {span}, got {_show(value)}"
        if _non_finite(value):
            raise _FieldError(wanted, RejectReason.not_finite)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _FieldError(wanted)
        if not low <= value <= high:
            raise _FieldError(wanted, RejectReason.out_of_range)
        return value

    return check


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise _FieldError(
            f"field '{name}' must be a string of at most {MAX_TEXT_CHARS} characters, "
            f"got {_show(value)}"
        )
    return value


_FIELDS: Final[dict[str, Callable[[str, object], object]]] = {
    "id": _msg_id,
    "ts": _timestamp,
    "lat": _number(-90.0, 90.0),
    "lon": _number(-180.0, 180.0),
    "acc": _number(0.0, MAX_ACC_METRES),
    "battery": _integer(0, 100, "0-100"),
    "text": _text,
    "seq": _integer(0, MAX_SEQ, "from 0 to 2^63-1"),
}


# -- wording --------------------------------------------------------------------


def _storable(name: str, value: object) -> None:
    """Refuse a value that holds text no store can hold, or a number that is not finite.

    json.loads turns `"\\ud800"` into a `str` that cannot be encoded as UTF-8 (so uuid5,
    the event transcoder and PostgreSQL all fail on it), and `NaN` into a float. The
    payload is at most 4 KiB, so walking it is cheap.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise _FieldError(
                    f"field '{name}' holds a lone surrogate (\\ud800-\\udfff) or NUL (\\u0000), "
                    f"which cannot be stored; send valid Unicode text, got {_show(item)}",
                    RejectReason.unstorable_text,
                )
        elif _non_finite(item):
            raise _FieldError(
                f"field '{name}' holds {_show(item)}, which is not a JSON number; "
                "send a finite number or omit the field",
                RejectReason.not_finite,
            )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _non_finite(value: object) -> bool:
    return isinstance(value, _NonFinite) or (isinstance(value, float) and not math.isfinite(value))


def safe_text(value: str) -> str:
    """The text with anything unstorable shown as an escape (`\\ud800`), never as itself."""
    if not _UNSTORABLE.search(value):
        return value
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _json_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _show(value: object, limit: int = 60) -> str:
    """A value as a device maker wrote it: strings quoted, other values as JSON.

    Always storable text (a lone surrogate is shown escaped): the detail is logged and,
    for an alarm, recorded under `rejected_fields`.
    """
    if isinstance(value, str):
        shown = repr(value)
    elif isinstance(value, _NonFinite):
        shown = value.literal
    else:
        try:
            shown = json.dumps(value, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            shown = repr(value)
        if isinstance(value, bool):
            shown += " (a boolean)"
    shown = safe_text(shown)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
