"""How a recorded actor is named to a person: one rule for the console, the record and texts.

Actors are recorded as `role:username` (`operator:reception1`) so that the record says
exactly who acted and in what capacity; people read "reception1 (contact centre)". A
phone contact who took an alert by text or key press is recorded by name and passes
through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ROLE_WORDS: Mapping[str, str] = {
    "operator": "contact centre",
    "dsl": "DSL",
    "headteacher": "headteacher",
    "slt": "SLT",
    "admin": "administrator",
    "staff": "staff",
    "cli": "command line",
}


def person(actor: str | None) -> str:
    """`operator:reception1` -> `reception1 (contact centre)`; names pass through."""
    if not actor:
        return "nobody"
    role, sep, who = actor.partition(":")
    if sep and who and role in ROLE_WORDS:
        return f"{who} ({ROLE_WORDS[role]})"
    return actor


_ACTOR = re.compile(r"\b(" + "|".join(ROLE_WORDS) + r"):([\w.@+-]+)")


def people_named(text: str) -> str:
    """Every `role:username` in a recorded sentence, as the person is known."""
    return _ACTOR.sub(lambda m: person(m.group(0)), text)
