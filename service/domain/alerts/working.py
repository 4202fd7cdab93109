"""Working an open alert: the notes people add while they deal with it, and handing it
over to a named colleague. The rules, each a sentence; `Alert` records what they allow."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from service.domain.errors import DomainError

MAX_NOTE: Final = 2000
"""A note is a line or a paragraph ("rang the home, no answer"), never a document."""


def note_text(text: object, *, needed: bool = True) -> str:
    """The note as recorded: trimmed; refused when empty (if needed) or over MAX_NOTE."""
    if not isinstance(text, str):
        raise DomainError("send the note as text, e.g. 'rang the home, no answer'")
    trimmed = text.strip()
    if needed and not trimmed:
        raise DomainError("a note needs some words: say what was done or found")
    if len(trimmed) > MAX_NOTE:
        raise DomainError(f"a note is at most {MAX_NOTE} characters (this one is {len(trimmed)})")
    return trimmed


def handover_refusal(*, taken: bool, holder: str | None, to: str) -> str | None:
    """An alert is handed over once someone has taken it (taking it is what stops the
    escalation, so nobody takes it on another's behalf), to someone who does not hold
    it already (a supervisor may hand it to themselves: taking it over). None when
    allowed; otherwise what to do instead."""
    if not taken:
        return "nobody has taken this alert yet: acknowledge it first, then hand it over"
    if holder == to:
        return f"the alert is already with {to}"
    return None


class HandoverText(StrEnum):
    """Whether the colleague an alert is handed to is texted, as the handover records it
    (so the record says it, not only the console at the time)."""

    REQUESTED = "requested"
    """A text to their mobile was asked for with the handover."""
    NO_MOBILE = "no_mobile"
    """Not texted: no mobile on record; whoever handed it over must tell them."""
    TOOK_OVER = "took_over"
    """They took it over themself: nobody to tell."""


def handover_text(*, to: str, by: str, mobile: str | None) -> HandoverText:
    """A handover texts the colleague's mobile, unless they took the alert over themself
    or have none on record."""
    if to == by:
        return HandoverText.TOOK_OVER
    return HandoverText.REQUESTED if mobile else HandoverText.NO_MOBILE


HANDOVER_TEXT_WORDS: Final[Mapping[str, str]] = {
    HandoverText.REQUESTED: "a text to their mobile requested",
    HandoverText.NO_MOBILE: "not texted: no mobile on record",
}
"""How the record says it; a take-over, and a handover recorded before handovers said
(None), say nothing."""
