"""A word typed one slip from a known one, named back to the person who typed it.

"unknown field; did you mean ack_within?" and "no rule 'upstars'; did you mean upstairs?"
say what to type instead, where a list of every choice makes them search. One rule for every
place a person names something from a closed set (a directory file's fields, a visit rule).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6
"""How alike a word must be to be offered (difflib's ratio): a slip, not a guess."""


def did_you_mean(given: object, known: Iterable[str]) -> str | None:
    """'did you mean upstairs?' when `given` is near one of `known`; None when none is."""
    near = difflib.get_close_matches(str(given), list(known), n=1, cutoff=CUTOFF)
    return f"did you mean {near[0]}?" if near else None
