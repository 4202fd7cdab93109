"""Memos of a bounded size whose oldest entries go first, let go of in one walk.

A plain `dict` let go of its oldest entry by `del table[next(iter(table))]`: every such
`next` walks the slots already emptied at the table's front, so a record's 10,000 entries
let go one by one cost 25-50 ms per memo (quadratic), and a serving process that had kept
two records paid it in each of five memos at its next record's export (docs/performance.md,
`export6`). export6 made the memos `OrderedDict`s (`popitem(last=False)`, O(1) each); but an
`OrderedDict` keeps a linked node per entry, so a record's 10,000 new entries kept at once
(`update`) cost ~3-4 ms per memo against ~0.7 for a `dict`, and each entry let go ~0.2 µs
(`export10`). A `dict` keeps its entries in the order inserted too: the oldest are its first
keys, and one walk over its front (`islice`) finds however many are to go, so a memo is let
go of in one walk per call, not one per entry.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import islice
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SLACK = 16
"""A memo past its capacity lets go of at least a sixteenth of it at once: one entry kept
at a time (a page's leaves, one told time) then walks the emptied front once per
`capacity // SLACK` entries, not once each (which was quadratic)."""


def let_go_oldest(table: dict[K, V], capacity: int) -> None:
    """The oldest entries of `table` let go until it holds `capacity`, or a sixteenth of
    `capacity` fewer when fewer than that are over (the caller holds whatever lock guards
    it). Readers may `get` meanwhile: each `del` is one step under the GIL."""
    excess = len(table) - capacity
    if excess > 0:
        for key in list(islice(table, max(excess, capacity // SLACK))):
            del table[key]
