"""What a phone number must be, wherever one is given (the directory file, a visit's
mobile, a companion, a user's mobile in the console): international form, so Twilio can
text it from any school. One rule, so a number the file accepts the console accepts too."""

from __future__ import annotations

import re
from typing import Final

PHONE_EXAMPLE: Final = "+447700900001"
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


def is_phone_number(value: str) -> bool:
    """E.164: a '+', a country code not starting with 0, 7-15 digits in all."""
    return _PHONE.fullmatch(value) is not None


def phone_problem(value: str, what: str = "") -> str | None:
    """None for a number in international form, else what to fix, naming `what` was given
    ('mobile', 'phone') before the value when the caller's message needs it."""
    if is_phone_number(value):
        return None
    named = f"{what} {value!r}" if what else repr(value)
    return f"{named} must be an international number like {PHONE_EXAMPLE}"
