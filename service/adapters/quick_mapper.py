"""An event's stored state written without the transcoder's per-object hook, byte for byte
the same as the library's mapper writes it.

The library's `JSONTranscoder` runs the C JSON encoder with a Python `default` hook that it
calls for every datetime and UUID (a heartbeat has two datetimes), and the mapper wraps the
result in a `StoredEvent` that the sealing store then copies. Here the event's own
top-level datetimes and UUIDs are replaced by the very dicts the hook would return, and the
same encoder settings run with no hook at all: anything else the hook would have been asked
about (a datetime inside a dict, a Decimal) makes it raise, and that event goes the
library's way. Checked against the library's mapper for drawn events
(tests/unit/test_quick_mapper.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex
from eventsourcing.utils import get_topic

_msgspec_encode = msgspec.json.Encoder().encode


class QuickStates:
    """`state_of(event)`: (topic, stored state) as `mapper.to_stored_event` would give them,
    or None when this mapper's configuration or this event is not one it can vouch for."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        transcoder = mapper.transcoder
        self.usable = (
            type(transcoder) is JSONTranscoder
            and type(transcoder.types.get(datetime)) is DatetimeAsISO
            and type(transcoder.types.get(UUID)) is UUIDAsHex
            and _same_settings(transcoder.encoder)
        )
        self._datetime_name = DatetimeAsISO.name
        self._uuid_name = UUIDAsHex.name
        self._encode = _encoder()
        self._compressor = mapper.compressor
        self._cipher = mapper.cipher
        self._last_instant: tuple[object, dict[str, str]] = (None, {})
        """The last datetime written and what it was written as: a gateway group's events
        share one timestamp object (the intake's `now`), and an aware datetime's
        `isoformat` is ~0.8 µs of the ~3.3 a heartbeat's state costs. By identity only
        (an equal datetime is another object, written afresh);
        the dict is only ever encoded, never changed; swapped as one tuple (the lanes
        share this store)."""
        self._classes: dict[type, tuple[str, int]] = {}
        """Each event class's topic and `class_version`, as the mapper asks them of it for
        every event (`get_topic`, `getattr`): a class's are fixed once it is defined."""

    def state_of(self, event: object) -> tuple[str, bytes] | None:
        if not self.usable:
            return None
        cls = type(event)
        known = self._classes.get(cls)
        if known is None:
            known = self._classes[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
        topic, class_version = known
        state = vars(event).copy()
        del state["originator_id"], state["originator_version"]
        if class_version > 1:
            state["class_version"] = class_version
        plain = True
        for key, value in state.items():
            kind = type(value)
            if kind is str or value is None:
                continue
            if kind is datetime:
                last, written = self._last_instant
                if value is not last:
                    written = {"_type_": self._datetime_name, "_data_": value.isoformat()}
                    if key == "timestamp":  # not a device's own clock, which differs each time
                        self._last_instant = (value, written)
                state[key] = written
            elif kind is UUID:
                state[key] = {"_type_": self._uuid_name, "_data_": value.hex}
            elif plain and not _plain(value):
                plain = False
        try:
            # msgspec writes plain JSON values as the json module does (every character,
            # any int, floats in the range printed without an exponent): ~10x faster.
            stored = _msgspec_encode(state) if plain else self._encode(state).encode("utf8")
        except (TypeError, ValueError, RecursionError):
            # Something nested the hook would have been asked about (or a circle, which the
            # library reports in its own words): the library's way.
            return None
        if self._compressor:
            stored = self._compressor.compress(stored)
        if self._cipher:
            stored = self._cipher.encrypt(stored)
        return topic, stored


def _plain(value: object) -> bool:
    """Whether msgspec writes this value exactly as the library's JSON encoder does: strings,
    ints, bools, None, lists and str-keyed dicts of them, and floats that `repr` prints
    without an exponent (msgspec writes `1e16`, json `1e+16`; NaN is `null` there)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if type(value) is float:
        return value == 0.0 or 1e-4 <= abs(value) < 1e16
    if type(value) is dict:
        # One loop over the items (a heartbeat's fields), not a generator over the keys and
        # another pass over the values: the common scalars checked without a call.
        for key, item in value.items():
            if type(key) is not str:
                return False
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if not _plain(item):
                return False
        return True
    if type(value) is list:
        return _all_plain(value)
    return False


def _all_plain(values: Iterable[object]) -> bool:
    """`all(_plain(v) for v in values)`, the common scalars checked without a call."""
    for value in values:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            continue
        if not _plain(value):
            return False
    return True


def _refuse(value: object) -> object:
    raise TypeError(type(value).__name__)


def _encoder() -> Callable[[object], str]:
    """The library's encoder settings with no hook, built once: `JSONEncoder.encode` makes a
    new C encoder (and a closure) on every call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    # markers=None: no circle check, so a circle ends in RecursionError (and the library's way)
    encode = make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def encoded(value: object) -> str:
        return "".join(encode(value, 0))

    return encoded


def _same_settings(encoder: json.JSONEncoder) -> bool:
    """The library's encoder as this module knows it (a new release may change it)."""
    return (
        encoder.item_separator == ","
        and encoder.key_separator == ":"
        and encoder.ensure_ascii is False
        and encoder.indent is None
        and encoder.sort_keys is False
        and encoder.allow_nan is True
        and encoder.skipkeys is False
    )
