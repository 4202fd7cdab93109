"""The common device payload read in one pass: decoded and type-checked by msgspec, then
each field checked by its own rule in `device_gateway.fields` (the only place those rules
are written).

A shortcut only, never a second set of rules: it answers for a payload it accepts in full
(every field present is of its field's type and passes its check, no unknown field), and
gives up (None) on anything else, which the full reader in `messages.py` then reads as
before, with the same rejection and the same words. So it may refuse too much, never too
little: msgspec refuses NaN, lone surrogate escapes, numbers too big for a double, a
boolean for a number, duplicate keys of different types, and unknown fields; NUL and the
checks' ranges are left to the checks here. Under a heartbeat flood this is most of what
admitting a message costs (json.loads, then every field's check and storability walk).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from device_gateway.fields import FIELDS, FieldError, storable


class _Payload(msgspec.Struct, forbid_unknown_fields=True):
    """Each known field's JSON type (null, as absent, is allowed for every one)."""

    id: str | int | None = None
    ts: str | int | None = None
    lat: float | None = None
    lon: float | None = None
    acc: float | None = None
    battery: int | None = None
    text: str | None = None
    seq: int | None = None


NAMES: Final = _Payload.__struct_fields__
if set(NAMES) != set(FIELDS):  # a field added to one and not the other
    raise RuntimeError(f"fast_payload knows {NAMES}, fields.FIELDS {tuple(FIELDS)}")

_DECODER: Final = msgspec.json.Decoder(_Payload)
_CHECKS: Final = tuple((name, FIELDS[name]) for name in NAMES)


def fast_fields(text: str) -> dict[str, Any] | None:
    """Every known field's checked value (None when absent), or None to read it in full."""
    try:
        payload = _DECODER.decode(text)
    except msgspec.MsgspecError:
        return None
    values: dict[str, Any] = {}
    try:
        for name, check in _CHECKS:
            value = getattr(payload, name)
            if value is not None:
                if value.__class__ is str:
                    storable(name, value)  # NUL; msgspec refuses lone surrogates itself
                value = check(name, value)
            values[name] = value
    except FieldError:
        return None
    return values
