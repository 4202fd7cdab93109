"""Memos of a bounded size whose oldest entries go first, each let go in constant time.

A plain `dict` let go of its oldest entry by `del table[next(iter(table))]`: every such
`next` walks the slots already emptied at the table's front, so a record's 10,000 entries
let go one by one cost 25-50 ms per memo (quadratic), and a serving process that had kept
two records paid it in each of five memos at its next record's export (a cold export
with full memos, ~140 ms of CPU more than with empty ones; docs/performance.md, `export6`).
An `OrderedDict` lets go of its oldest in O(1), and reads as fast.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def let_go_oldest(table: OrderedDict[K, V], capacity: int) -> None:
    """The oldest entries of `table` let go until it holds `capacity` (the caller holds
    whatever lock guards it)."""
    while len(table) > capacity:
        table.popitem(last=False)
