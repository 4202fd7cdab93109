"""What a visitor can text (or send from the phone app) while out on a visit, read forgivingly.

The first word names the command, in any case, with any punctuation around it; what follows
is its detail: `concern: child alone at home`, `Left - next: Tesco car park`, `extend 20 mins`,
`ENDED no responsible adult`. Pure: a text in, a `VisitorText` (or None: not a command) out;
`as_text` writes a command back the way the parser reads it (they round-trip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Word(StrEnum):
    ARRIVED = "ARRIVED"
    LEFT = "LEFT"
    BACK = "BACK"
    OK = "OK"
    HELP = "HELP"
    CONCERN = "CONCERN"
    EXTEND = "EXTEND"
    ENDED = "ENDED"


MIN_EXTEND_MINUTES = 1
MAX_EXTEND_MINUTES = 120
"""One text moves the expected return by at most two hours: longer is a new plan, agreed with
the school, not a text from the doorstep."""
MAX_DETAIL = 300
"""A concern, a reason or a next place is kept to a text's worth of words."""

_FIRST_WORD = re.compile(r"^[\W_]*([A-Za-z]+)(.*)$", re.DOTALL)
_NEXT = re.compile(r"^(?:next|going\s+to|going|then|to)\b[\s:;,.\-]*", re.IGNORECASE)
_MINUTES = re.compile(r"^\s*(?:by\s+)?(\d{1,6})\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class VisitorText:
    """A command read from a text. `detail` is the words after it (a concern, a reason for
    ending, the next place after LEFT); `minutes` is EXTEND's number (None: none given)."""

    word: Word
    detail: str = ""
    minutes: int | None = None


def _clean(words: str) -> str:
    """Whitespace folded, leading punctuation (`: - ,`) and trailing spaces dropped."""
    folded = _SPACE.sub(" ", words).strip()
    return folded.lstrip(":;,.-=> ").strip()[:MAX_DETAIL].strip()


def parse_visitor_text(text: str) -> VisitorText | None:
    """The command a text carries, or None when its first word is not one."""
    match = _FIRST_WORD.match(text)
    if match is None:
        return None
    try:
        word = Word(match[1].upper())
    except ValueError:
        return None
    rest = match[2]
    if word is Word.EXTEND:
        found = _MINUTES.match(rest)
        return VisitorText(word, minutes=int(found[1]) if found else None)
    if word is Word.LEFT:
        # A place only after "next" (or "going to", "then", "to"): "Left now" names none.
        cleaned = _clean(rest)
        marked = _NEXT.match(cleaned)
        return VisitorText(word, detail=_clean(cleaned[marked.end() :]) if marked else "")
    if word in (Word.CONCERN, Word.ENDED):
        return VisitorText(word, detail=_clean(rest))
    return VisitorText(word)


def as_text(command: VisitorText) -> str:
    """The text that reads as `command` (what a help reply shows as an example)."""
    if command.word is Word.EXTEND:
        return f"EXTEND {command.minutes}" if command.minutes is not None else "EXTEND"
    if command.word is Word.LEFT and command.detail:
        return f"LEFT next: {command.detail}"
    if command.detail:
        return f"{command.word.value} {command.detail}"
    return command.word.value


def extension_problem(minutes: int | None) -> str | None:
    """Why an EXTEND cannot be recorded as sent, in words the visitor can act on."""
    if minutes is None:
        return f"send EXTEND and the minutes, e.g. EXTEND 20 (at most {MAX_EXTEND_MINUTES})"
    if not MIN_EXTEND_MINUTES <= minutes <= MAX_EXTEND_MINUTES:
        return (
            f"EXTEND takes {MIN_EXTEND_MINUTES} to {MAX_EXTEND_MINUTES} minutes; for longer, "
            "ring the school"
        )
    return None


HELP_TEXT = (
    "Lonewatch: texts you can send: ARRIVED; LEFT next: <place>; BACK; OK; EXTEND 20; "
    "CONCERN <what you saw>; ENDED <why>; HELP for help now."
)
"""The reply to a text that is not a command: every command, one example each."""


def extended_times(
    *, leave: datetime, back: datetime, now: datetime, minutes: int, left: bool
) -> tuple[datetime | None, datetime]:
    """EXTEND N: the expected return N minutes later (from now, if it has passed); before
    leaving the property, the expected leave too (never after the return). None: unchanged."""
    more = timedelta(minutes=minutes)
    new_back = max(back, now) + more
    return (None if left else min(max(leave, now) + more, new_back)), new_back


def _local(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def reply_concern(number: int) -> str:
    return (
        f"Lonewatch: concern {number} recorded on your visit and sent to the DSL now. "
        "Call 999 if anyone is in immediate danger."
    )


# A reply never repeats the visitor's own words: a text with the safe word in it is answered
# as the same text without it would be, and its words are never stored or sent back.


def reply_left(at: datetime, with_place: bool, timezone: str) -> str:
    nxt = (
        " Where you go next is recorded."
        if with_place
        else " Text LEFT next: <place> to say where you go next."
    )
    return f"Lonewatch: recorded: you left the property ({_local(at, timezone)}).{nxt}"


def reply_extended(minutes: int, back: datetime, timezone: str) -> str:
    return f"Lonewatch: recorded: {minutes} min more; expected back by {_local(back, timezone)}."


def reply_ended() -> str:
    return (
        "Lonewatch: recorded: visit ended early, with your reason. Text BACK when you are "
        "back at school."
    )


def reply_refused(problem: str) -> str:
    return f"Lonewatch: not recorded: {problem}."


NO_VISIT_REPLY = reply_refused("you are not signed out on a visit; ring the school")
