"""The common device payload read in one pass: decoded by msgspec, then each field present
checked by its own rule in `device_gateway.fields` (the only place those rules are written).

A shortcut only, never a second set of rules: it answers for a payload it accepts in full
(every field present is of its field's type and passes its check, no unknown field), and
gives up (None) on anything else, which the full reader in `messages.py` then reads as
before, with the same rejection and the same words. So it may refuse too much, never too
little: msgspec refuses NaN, Infinity, lone surrogate escapes and numbers too big for a
double, and gives what `json.loads` gives for the rest (a repeated key: the last one);
an unknown field, NUL, every type and every range are left to the full reader and the
checks. Under a heartbeat flood this is most of what admitting a message costs (json.loads,
then every field's check and storability walk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from device_gateway.fields import FIELDS, FieldError, unstorable_in

_DECODER: Final = msgspec.json.Decoder()
"""Any JSON: which fields there are, and each one's type, are for the checks to say."""

_ATTRIBUTES: Final = {"id": "msg_id", "ts": "device_ts"}
_CHECKS: Final[dict[str, tuple[str, Callable[[str, object], object]]]] = {
    name: (_ATTRIBUTES.get(name, name), check) for name, check in FIELDS.items()
}
"""Each payload field's `DeviceReading` attribute and its check (`device_gateway.fields`)."""


def fast_reading(device_id: str, kind: str, text: str) -> dict[str, Any] | None:
    """The attributes of the reading of a payload whose every field present is valid and
    known (absent and null ones None), made in the same pass as its checks; or None to read
    it in full. Only the fields present are visited: a heartbeat has two of eight.

    The attributes are `DeviceReading`'s, in its order, with two new empty dicts: messages.py
    gives them to the reading whole, rather than a dict of checked values that `_made` read
    field by field into keywords that the reading's `__init__` copied in (once per message:
    ~half of this reader's cost; docs/performance.md, ingest8). Checked against the full
    reader, `repr` for `repr`, for drawn payloads (tests/unit/test_device_messages_storable.py)."""
    try:
        payload = _DECODER.decode(text)
    except (msgspec.MsgspecError, RecursionError):  # nested deeper than it can read
        return None
    if payload.__class__ is not dict:
        return None
    state: dict[str, Any] = {
        "device_id": device_id,
        "kind": kind,
        "msg_id": None,
        "device_ts": None,
        "lat": None,
        "lon": None,
        "acc": None,
        "battery": None,
        "text": None,
        "seq": None,
        "rejected_fields": {},
        "extra": {},
    }
    try:
        for name, value in payload.items():
            known = _CHECKS.get(name)
            if known is None:
                return None  # unknown: the full reader checks it is storable text
            if value is not None:
                # NUL (`storable`'s rule for text); msgspec refuses lone surrogates itself
                if value.__class__ is str and unstorable_in(value):
                    return None
                state[known[0]] = known[1](name, value)
    except FieldError:
        return None
    return state
