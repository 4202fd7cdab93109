"""The cycle collector, paused while a big batch of documents is built.

A rebuild keeps ~200,000 documents in its cache and a record of 10,000 events makes
~100,000 dictionaries, all alive until written or sent: the collector scanned them again
and again at each full collection (~20% of a rebuild's CPU, ~30% of a record's). Nothing
built there makes a cycle; reference counting frees the rest as before, and the
collector runs again once the work is done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_pauses = 0
"""Pauses in force, in every thread: the collector is one for the whole process."""
_was_on = False
"""Whether the collector was on when the first of the pauses in force began."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Left alone if something else had turned the collector off. Pauses overlapping in
    several threads (an export's job, a live round, a rebuild) end together: the collector
    comes back on when the last ends, not when the first does, in the middle of another's
    work (docs/performance.md, export13)."""
    global _pauses, _was_on
    with _LOCK:
        if _pauses == 0:
            _was_on = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _LOCK:
            _pauses -= 1
            if _pauses == 0 and _was_on:
                gc.enable()
