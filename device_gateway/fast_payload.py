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

from typing import Any, Final

import msgspec

from device_gateway.fields import FIELDS, FieldError, storable

_DECODER: Final = msgspec.json.Decoder()
"""Any JSON: which fields there are, and each one's type, are for the checks to say."""


def fast_fields(text: str) -> dict[str, Any] | None:
    """The checked value of every field present (absent and null ones left out), or None to
    read it in full. Only the fields present are visited: a heartbeat has two of eight."""
    try:
        payload = _DECODER.decode(text)
    except (msgspec.MsgspecError, RecursionError):  # nested deeper than it can read
        return None
    if payload.__class__ is not dict:
        return None
    values: dict[str, Any] = {}
    try:
        for name, value in payload.items():
            check = FIELDS.get(name)
            if check is None:
                return None  # unknown: the full reader checks it is storable text
            if value is not None:
                if value.__class__ is str:
                    storable(name, value)  # NUL; msgspec refuses lone surrogates itself
                values[name] = check(name, value)
    except FieldError:
        return None
    return values
