"""Working an open alert: the notes people add while they deal with it, and handing it
over to a named colleague. The rules, each a sentence; `Alert` records what they allow."""

from __future__ import annotations

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
