"""Whole-record checks made in the background, so that the first page of a long record
answers from its own rows while the verdict on the rest is still being made (issue 12: a
DSL opening a 10,000-event record waited ~830 ms for the whole check before the first row).

One worker thread per application, its own: never the event loop, never the pool the
alarm path's store calls use, never the exports pool the page itself runs in. At most
`PENDING` checks wait or run at once; a page that finds the worker full checks the whole
record itself, as before. A check that fails is logged with its traceback; the next page
checks inline.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from service.logs import get_logger

log = get_logger(__name__)

INLINE_UP_TO = 2_000
"""Records of up to this many events are checked whole before their first page answers
(~0.1 s of CPU at 10,000 events a second, a short wait): only a longer one is worth a
"checking" verdict that the reader must wait for again."""
PENDING = 4
"""Checks waiting or running at once: a DSL's few records opened at once."""
HELD_SECONDS = 2.0
"""How long the HTTP handler's check waits at most for `release` (the response written):
under load a page took 50 to 90 ms of wall between its hand-over and its last byte, and a
check let go after `AFTER_SECONDS` was already reading the index while it was sent (seen
in docs/performance.md, `asof3`). A bound, should the handler never say."""
AFTER_SECONDS = 0.1
"""How long a check handed over waits before it starts, unless someone waits for it: the
page that handed it over is still being finished, written out and sent by the same
interpreter, and a check started at once took half its time (the interpreter's lock is
shared by turns): a cold page as of an instant took ~180 ms over HTTP for ~90 ms of CPU."""


class WholeChecks:
    """The background worker and the checks it has in hand, by subject."""

    def __init__(
        self, inline_up_to: int = INLINE_UP_TO, pending: int = PENDING, after: float = AFTER_SECONDS
    ) -> None:
        self.inline_up_to, self.pending, self.after = inline_up_to, pending, after
        self._lock = threading.Lock()
        self._running: dict[str, Future[Any]] = {}
        self._go: dict[str, threading.Event] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-check")

    def start(self, subject: str, check: Callable[[], Any], after: float | None = None) -> bool:
        """Check `subject`'s whole record in the background unless it is already in hand;
        False when the worker is full (the caller checks inline). It starts after `after`
        seconds (`self.after` by default), or at once when someone waits for it or
        `release`s it."""
        delay = self.after if after is None else after
        with self._lock:
            if subject in self._running:
                return True
            if len(self._running) >= self.pending:
                return False
            go = self._go[subject] = threading.Event()

            def later() -> Any:
                go.wait(delay)
                return check()

            future = self._worker.submit(later)
            self._running[subject] = future
        future.add_done_callback(lambda done: self._finished(subject, done))
        return True

    def wait(self, subject: str) -> None:
        """Until a check of `subject` in hand (if any) is done: a page that needs the whole
        check waits for that one rather than making a second."""
        with self._lock:
            future = self._running.get(subject)
            go = self._go.get(subject)
        if go is not None:
            go.set()  # someone needs it now: no reason left to wait
        if future is None:
            return
        if not future.cancelled():
            future.exception()  # its failure is logged by `_finished`; the caller checks inline
        with self._lock:  # done: no longer in hand (its callback may not have run yet)
            if self._running.get(subject) is future:
                del self._running[subject]
                self._go.pop(subject, None)

    def release(self, subject: str) -> None:
        """The page that handed `subject`'s check over has been sent: start it now."""
        with self._lock:
            go = self._go.get(subject)
        if go is not None:
            go.set()

    def running(self, subject: str) -> bool:
        with self._lock:
            return subject in self._running

    def _finished(self, subject: str, done: Future[Any]) -> None:
        with self._lock:
            if self._running.get(subject) is done:
                del self._running[subject]
                self._go.pop(subject, None)
        failure = None if done.cancelled() else done.exception()
        if failure is not None:
            log.error(
                "record_check_failed", subject_kind=subject.partition(":")[0], exc_info=failure
            )

    def close(self) -> None:
        """Stop taking checks and wait for the one running."""
        with self._lock:
            for go in self._go.values():
                go.set()
        self._worker.shutdown(wait=True, cancel_futures=True)


_CHECKS: weakref.WeakKeyDictionary[Any, WholeChecks] = weakref.WeakKeyDictionary()
_CHECKS_LOCK = threading.Lock()


def checks_of(app: Any) -> WholeChecks:
    """One worker per application (per store): tests run many in one process."""
    with _CHECKS_LOCK:
        found = _CHECKS.get(app)
        if found is None:
            found = _CHECKS[app] = WholeChecks()
        return found


def close_checks(app: Any) -> None:
    """At shutdown: the application's worker stops taking checks and finishes the one
    running (the service's cleanup owns it)."""
    with _CHECKS_LOCK:
        found = _CHECKS.pop(app, None)
    if found is not None:
        found.close()
