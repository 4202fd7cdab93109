"""The numbers (`UUID.int`) of the streams the views' index names by text: a cold page as
of an instant keys its streams by number (an int hashes in C, a `UUID` in Python;
docs/performance.md, asof4) and matches them to the rows read, whose ids are `UUID`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from uuid import UUID

_HEX = "[0-9a-fA-F]"
_AS_WRITTEN = re.compile(f"(?:{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\n)*")
"""Ids as the index writes them (`str(UUID)`), each followed by a newline."""
_CANONICAL = re.compile("(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)*")
"""Ids spelt exactly as `str(UUID)` spells them (lower case), each followed by a newline."""


def stream_numbers(texts: Sequence[str]) -> list[int]:
    """`[UUID(text).int for text in texts]`. Ids as the index writes them are read all at
    once, in C (one match over them all, then `int(digits, 16)` by `map`: ~1.5 ms for the
    5,100 ids of a page as of the middle of a 10,000-event record, a Python step each was
    ~5); any other spelling sends them all through `UUID`, which refuses what it refuses."""
    joined = "\n".join(texts) + "\n" if texts else ""
    # 36 characters each: one id a line, none spread over two (a newline within one).
    if set(map(len, texts)) - {36} or _AS_WRITTEN.fullmatch(joined) is None:
        return [UUID(text).int for text in texts]
    return _numbers(texts)


def streams_named(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    """`stream_numbers` of these texts, and each as `str(UUID(text))` spells it: the texts
    themselves when every one is spelt so (the index writes `str(UUID)`: checked all at
    once, in C), else made afresh. A record's checks name each stream by that text; telling
    10,000 `UUID`s back as text was ~10 ms of a printable export (docs/performance.md, ids12)."""
    joined = "\n".join(texts) + "\n" if texts else ""
    if set(map(len, texts)) - {36} or _CANONICAL.fullmatch(joined) is None:
        uuids = [UUID(text) for text in texts]
        return [u.int for u in uuids], [str(u) for u in uuids]
    return _numbers(texts), list(texts)


def _numbers(texts: Sequence[str]) -> list[int]:
    """Ids in the 8-4-4-4-12 form as numbers, read all at once in C."""
    return list(map(int, map(str.replace, texts, repeat("-"), repeat("")), repeat(16)))


def hexes(numbers: Iterable[int]) -> list[str]:
    """Each stream's number as `UUID.hex` spells it, by `%` in C (`UUID.hex` is a Python
    property, `format` slower; docs/performance.md, asof12): for the Merkle leaves' query
    and `by_block`."""
    return list(map("%032x".__mod__, numbers))
