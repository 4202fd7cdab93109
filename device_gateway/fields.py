"""A device payload's fields: each one's check, and the words a rejection uses.

Every check names the field and what it must be, so a device maker knows what to fix;
`RejectReason` says which rule a message broke (counted per reason).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

MAX_ID_CHARS: Final = 128
MAX_TEXT_CHARS: Final = 1000
MAX_SEQ: Final = 2**63 - 1
"""The largest `seq`: a signed 64-bit integer, so it fits any store's BIGINT."""
MAX_ACC_METRES: Final = 20_000_000.0
"""Half the Earth's circumference: no position can be less certain than that."""
_EPOCH_MS_RANGE: Final = (-62_135_596_800_000, 253_402_300_799_999)
"""Epoch milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the dates
every store (and Python's datetime) can hold."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
unstorable_in = _UNSTORABLE.search
"""Whether a string holds what `storable` refuses in text (a match, or None): for a reader
that checks a plain string without the call and walk of `storable`."""


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


class FieldError(ValueError):
    """A payload field failed validation; the message is the Rejection detail."""

    def __init__(self, detail: str, reason: RejectReason = RejectReason.bad_field) -> None:
        super().__init__(detail)
        self.reason = reason


class NonFinite:
    """What `NaN`, `Infinity` and `-Infinity` parse to: json.loads accepts them by default,
    and refusing the whole payload would refuse an alarm over an optional field."""

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


def _msg_id(name: str, value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
        raise FieldError(
            f"field '{name}' must be a string of 1-{MAX_ID_CHARS} characters or an integer, "
            f"got {show(value)}"
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
            raise FieldError(
                f"{expected} from year 0001 to 9999; {show(value)} is out of range",
                RejectReason.bad_date,
            )
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise FieldError(f"{expected}, got {show(value)}") from None
        if parsed.tzinfo is None:
            # The contract asks for a timezone; a device that omits it means UTC.
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            # 9999-12-31T23:00:00-05:00 is a valid ISO string but a date past 9999 in UTC.
            raise FieldError(
                f"{expected} from year 0001 to 9999 in UTC, got {show(value)}",
                RejectReason.bad_date,
            ) from None
    if _non_finite(value):
        raise FieldError(f"{expected}, got {show(value)}", RejectReason.not_finite)
    raise FieldError(f"{expected}, got {show(value)}")


def _number(low: float, high: float) -> Callable[[str, object], float]:
    span = f"at least {low:g}" if high == math.inf else f"{low:g} to {high:g}"

    def check(name: str, value: object) -> float:
        # The message is written only for a value that fails: most do not.
        def wanted() -> str:
            return f"field '{name}' must be a number {span}, got {show(value)}"

        if _non_finite(value):
            raise FieldError(wanted(), RejectReason.not_finite)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(wanted())
        # Compared before float(): an integer of 400 digits is out of range, not an overflow.
        if not low <= value <= high:
            raise FieldError(wanted(), RejectReason.out_of_range)
        return float(value)

    return check


def _integer(low: int, high: int, span: str) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        def wanted() -> str:
            return f"field '{name}' must be an integer {span}, got {show(value)}"

        if _non_finite(value):
            raise FieldError(wanted(), RejectReason.not_finite)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(wanted())
        if not low <= value <= high:
            raise FieldError(wanted(), RejectReason.out_of_range)
        return value

    return check


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise FieldError(
            f"field '{name}' must be a string of at most {MAX_TEXT_CHARS} characters, "
            f"got {show(value)}"
        )
    return value


FIELDS: Final[dict[str, Callable[[str, object], object]]] = {
    "id": _msg_id,
    "ts": _timestamp,
    "lat": _number(-90.0, 90.0),
    "lon": _number(-180.0, 180.0),
    "acc": _number(0.0, MAX_ACC_METRES),
    "battery": _integer(0, 100, "0-100"),
    "text": _text,
    "seq": _integer(0, MAX_SEQ, "from 0 to 2^63-1"),
}


def storable(name: str, value: object) -> None:
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
                raise FieldError(
                    f"field '{name}' holds a lone surrogate (\\ud800-\\udfff) or NUL (\\u0000), "
                    f"which cannot be stored; send valid Unicode text, got {show(item)}",
                    RejectReason.unstorable_text,
                )
        elif _non_finite(item):
            raise FieldError(
                f"field '{name}' holds {show(item)}, which is not a JSON number; "
                "send a finite number or omit the field",
                RejectReason.not_finite,
            )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _non_finite(value: object) -> bool:
    return isinstance(value, NonFinite) or (isinstance(value, float) and not math.isfinite(value))


def safe_text(value: str) -> str:
    """The text with anything unstorable shown as an escape (`\\ud800`), never as itself."""
    if not _UNSTORABLE.search(value):
        return value
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def json_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def show(value: object, limit: int = 60) -> str:
    """A value as a device maker wrote it: strings quoted, other values as JSON.

    Always storable text (a lone surrogate is shown escaped): the detail is logged and,
    for an alarm, recorded under `rejected_fields`.
    """
    if isinstance(value, str):
        shown = repr(value)
    elif isinstance(value, NonFinite):
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
