"""The numbers (`UUID.int`) of the streams the views' index names by text: a cold page as
of an instant keys its streams by number (an int hashes in C, a `UUID` in Python;
docs/performance.md, asof4) and matches them to the rows read, whose ids are `UUID`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from uuid import UUID

_CANONICAL = re.compile("(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)*")
"""Ids spelt exactly as `str(UUID)` spells them (lower case), each followed by a newline."""


def stream_numbers(texts: Sequence[str]) -> list[int]:
    """`[UUID(text).int for text in texts]`, read all at once in C when every id less its
    dashes is 32 characters (as the index writes them): `int(digits, 16)` by `map`. The
    same numbers, and the same ids refused: `UUID` is `int(digits, 16)` of the text less
    its dashes, braces, `urn:` and `uuid:`, and a text `int` reads has no `{`, `}` or `:`,
    so `UUID` reads the very digits read here. No check of the spelling first: a regular
    expression over the ids was ~0.5 of ~1.7 ms for the 5,100 ids of a cold page as of the
    middle of a 10,000-event record (docs/performance.md, asof13). Anything else (or a
    refusal, to be refused in `UUID`'s words) goes through `UUID` one by one."""
    digits = list(map(str.replace, texts, repeat("-"), repeat("")))
    if set(map(len, digits)) <= {32}:
        try:
            return list(map(int, digits, repeat(16)))
        except ValueError:
            pass
    return [UUID(text).int for text in texts]


def streams_named(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    """`stream_numbers` of these texts, and each as `str(UUID(text))` spells it: the texts
    themselves when every one is spelt so (the index writes `str(UUID)`: checked all at
    once, in C), else made afresh. A record's checks name each stream by that text; telling
    10,000 `UUID`s back as text was ~10 ms of a printable export (docs/performance.md, ids12)."""
    joined = "\n".join(texts) + "\n" if texts else ""
    if set(map(len, texts)) - {36} or _CANONICAL.fullmatch(joined) is None:
        uuids = [UUID(text) for text in texts]
        return [u.int for u in uuids], [str(u) for u in uuids]
    return stream_numbers(texts), list(texts)


def hexes(numbers: Iterable[int]) -> list[str]:
    """Each stream's number as `UUID.hex` spells it, by `%` in C (`UUID.hex` is a Python
    property, `format` slower; docs/performance.md, asof12): for the Merkle leaves' query
    and `by_block`."""
    return list(map("%032x".__mod__, numbers))
