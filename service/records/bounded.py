"""Memos of a bounded size whose oldest entries go first, each let go in constant time, and
let go after the request that grew them rather than inside it.

A plain `dict` let go of its oldest entry by `del table[next(iter(table))]`: every such
`next` walks the slots already emptied at the table's front, so a record's 10,000 entries
let go one by one cost 25-50 ms per memo (quadratic), and a serving process that had kept
two records paid it in each of five memos at its next record's export (a cold export
with full memos, ~140 ms of CPU more than with empty ones; docs/performance.md, `export6`).
An `OrderedDict` lets go of its oldest in O(1), and reads as fast.

What is left of letting go is freeing what the entries hold (a decoded event, a stream's
check, their keys): ~30-45 ms for a record's 10,000 across the memos, paid by the next
record's cold export while the DSL waits (docs/performance.md, `export8`). `let_go_soon`
moves it off that path: the memo may hold more than its capacity for a moment, and one
background thread lets go of the excess once no memo has grown for `QUIET` seconds, a few
hundred entries at a time under the memo's own lock. A memo past `OVER` times its
capacity (memos grown faster than the thread can catch up) is let go of at once, inline,
so memory stays bounded whatever happens to the thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

QUIET = 0.5
"""Seconds with no memo grown past its capacity before the excess is let go: a record's
export keeps its entries in bursts a few tens of ms apart, and DSLs' exports come seconds
apart."""
OVER = 2
"""A memo is let go of inline once it holds more than this many times its capacity."""
CHUNK = 500
"""Entries let go under one taking of a memo's lock (~1.5 ms): a read of the memo, or a
keep, waits at most that long for the background thread."""


def let_go_oldest(table: OrderedDict[K, V], capacity: int) -> None:
    """The oldest entries of `table` let go until it holds `capacity` (the caller holds
    whatever lock guards it)."""
    while len(table) > capacity:
        table.popitem(last=False)


def let_go_soon(table: OrderedDict[K, V], capacity: int, lock: Any) -> None:
    """`let_go_oldest`, later and off the caller's thread (see the module), unless `table`
    is past `OVER` times `capacity`. The caller holds `lock` (the memo's, which the
    background thread takes to let go)."""
    if len(table) <= capacity:
        return
    if len(table) > OVER * capacity:
        let_go_oldest(table, capacity)
        return
    _TRIMMER.ask(table, capacity, lock)


class _Trimmer:
    """One thread, started on the first need and again if it ever ended, that lets go of
    the memos' excess once they have been quiet for `QUIET` seconds. It inherits the nice
    value of the thread that starts it (the exports pool's, service/workers/pools.py)."""

    def __init__(self) -> None:
        self._pending: dict[int, tuple[OrderedDict[Any, Any], int, Any]] = {}
        self._last = 0.0
        self._lock = threading.Lock()
        self._asked = threading.Event()
        self._thread: threading.Thread | None = None

    def ask(self, table: OrderedDict[Any, Any], capacity: int, lock: Any) -> None:
        with self._lock:
            self._pending[id(table)] = (table, capacity, lock)
            self._last = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lw-memo-trim", daemon=True)
                self._thread.start()
        self._asked.set()

    def settled(self, timeout: float) -> bool:
        """Whether every memo asked about is back within its capacity within `timeout`
        seconds (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._asked.is_set() and not self._busy:
                    return True
            time.sleep(0.01)
        return False

    _busy = False

    def _run(self) -> None:
        while True:
            self._asked.wait()
            while True:
                with self._lock:
                    wait = self._last + QUIET - time.monotonic()
                if wait <= 0:
                    break
                time.sleep(wait)
            with self._lock:
                pending, self._pending = self._pending, {}
                self._asked.clear()
                self._busy = True
            try:
                for table, capacity, lock in pending.values():
                    while len(table) > capacity:
                        with lock:
                            for _ in range(min(CHUNK, len(table) - capacity)):
                                table.popitem(last=False)
                        time.sleep(0)
            finally:
                with self._lock:
                    self._busy = False


_TRIMMER = _Trimmer()


def memos_settled(timeout: float = 10.0) -> bool:
    """Whether the memos' excess has been let go within `timeout` seconds."""
    return _TRIMMER.settled(timeout)
