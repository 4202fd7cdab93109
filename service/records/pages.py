"""A page of a long record at the cost of its own rows (issue 12: 100 ms for a page of a
10,000-event record), with the whole record's verdict and state as before.

The whole record is checked once (`check_whole`: every stream read, its seals and
Merkle leaves checked, every event decoded and projected, with checkpoints of the
projected documents) and kept in a `RecordCache` (service/records/record_cache.py). Each
page then reads from the database only the streams of its own rows (and of the few
events between a checkpoint and its first row), checks their seals and leaves again,
and compares them with what the whole check found: any difference (an edit, a removal,
an event added since) throws the check away and makes it again, so the page never shows
its own rows other than the database holds them. What it trusts from the check: rows it
does not show, for at most `TTL_SECONDS` while the subject's index is unchanged; each
page says when that check was made (`integrity.checked_at`).

A whole record (`limit=all`), an export, and an instant that cuts the record elsewhere
than at a prefix of it (recorded times out of order) take the full path
(`incident_record`), unchanged. With no check kept, a long record's first page and any
page as of an instant answer "checking" while a worker checks the whole
(`_first_page`; service/records/first_page.py and instant_page.py). The check and the
wording of a page from it are service/records/checked_pages.py.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from projections.collector import collector_paused
from projections.store import IndexEntry, ViewStore
from service.adapters.merkle_log import MerkleLog
from service.application.lonewatch import Lonewatch
from service.records.checked_growth import extended
from service.records.checked_pages import answer as answer_page
from service.records.checked_pages import check
from service.records.checked_pages import whole_verdict as whole_verdict
from service.records.first_page import first_page
from service.records.instant_page import instant_page
from service.records.record_cache import STEP, Checked, RecordCache
from service.records.record_shape import Page
from service.records.replay import incident_record
from service.records.whole_checks import WholeChecks


def record_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    *,
    as_of: datetime | None = None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
    checks: WholeChecks | None = None,
    held: float | None = None,
) -> dict[str, Any]:
    """What `incident_record` answers for this page, from a checked record where one
    stands (see the module). With `checks`, the first page of a long record with none
    answers from its own rows while `checks` checks the whole (service/records/first_page.py);
    `held`: that check waits so long at most for `checks.release` (the caller sends the
    page first), not `checks.after`."""
    full = {"as_of": as_of, "merkle": merkle, "zone": zone, "page": page}
    if page.limit is None:
        return incident_record(app, views, subject, **full)  # type: ignore[arg-type]
    # The collector comes back on once the page's own frame is gone: what is left to it then
    # is the answer, not the 10,000 index entries and the rows read (a collection of the
    # youngest objects as the collector comes back: ~2-10 ms of the request for ~13,000
    # left alive, and every tenth one older too; docs/performance.md, asof6).
    with collector_paused():
        answer = _paged(app, views, subject, as_of, merkle, zone, page, cache, checks, held)
    if answer is None:  # changing as it is read, or an instant that is no prefix
        cache.drop(subject)
        return incident_record(app, views, subject, **full)  # type: ignore[arg-type]
    return answer


def _paged(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    as_of: datetime | None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
    checks: WholeChecks | None,
    held: float | None,
) -> dict[str, Any] | None:
    """`record_page`'s answer from a checked record, made while the collector is paused
    (None: take the full path)."""
    # The index and the views' reads up to a cold page share one connection (each taken
    # from the pool is tested with a round trip first); let go of before waiting for the
    # worker (`checks.wait`), which reads them too.
    cold: dict[str, Any] | None = None
    with views.held():
        entries = views.index(subject)
        checked = cache.get(subject, entries)
        fresh = checked is None
        grown = cache.grown(subject, entries) if fresh else None
        if grown is not None:
            checked = extended(app, views, grown, entries, merkle, STEP)
            fresh = checked is None
            if checked is not None:
                cache.put(subject, checked)
        if checked is None and checks is not None:
            cold = _first_page(
                app, views, subject, entries, as_of, merkle, zone, page, cache, checks, held
            )
    if cold is not None:
        return cold
    if checked is None and checks is not None:
        checks.wait(subject)  # one check in hand is waited for, not made twice
        checked = cache.get(subject, entries)
        fresh = checked is None
    if checked is None:
        checked = _checked(app, views, subject, entries, merkle, cache)
    answer = answer_page(app, views, subject, checked, as_of, merkle, zone, page)
    if answer is None and not fresh:
        # The page's rows are not what was checked: check the whole record again.
        checked = _checked(app, views, subject, entries, merkle, cache)
        answer = answer_page(app, views, subject, checked, as_of, merkle, zone, page)
    return answer


def _checked(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    merkle: MerkleLog | None,
    cache: RecordCache,
    *,
    background: bool = False,
) -> Checked:
    """The whole check, kept; in the `background` worker its saved states are also written
    to the database (`RecordCache.keep`), never while a page waits."""
    checked = check_whole(app, views, subject, entries, merkle, cache.monotonic())
    (cache.keep if background else cache.put)(subject, checked)
    return checked


def _first_page(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: list[IndexEntry],
    as_of: datetime | None,
    merkle: MerkleLog | None,
    zone: tzinfo,
    page: Page,
    cache: RecordCache,
    checks: WholeChecks,
    held: float | None = None,
) -> dict[str, Any] | None:
    """A long record's first page from its own rows, the whole check handed to `checks`
    (None: not a first page, a short record, an instant or a `from`, or the worker full)."""
    assert page.limit is not None
    if len(entries) <= checks.inline_up_to:
        return None
    if as_of is not None:
        answer = instant_page(app, views, subject, entries, as_of, merkle, zone, page, cache)
        if answer is not None and "checking" not in answer["integrity"]:
            return answer  # the instant was near the end: the whole record was checked
    elif page.since is None and entries and page.after < entries[0].position:
        answer = first_page(
            app, views, subject, entries, merkle=merkle, zone=zone, limit=page.limit
        )
    else:
        return None
    if answer is None:
        return None

    def whole() -> None:
        with collector_paused():
            _checked(app, views, subject, views.index(subject), merkle, cache, background=True)
        # The record as checked (~30,000 objects, kept) aged here, in the worker: the check
        # also frees the one it replaces, so the collector's count stays low and these were
        # left to the next request's first collection (4-15 ms of it; docs/performance.md,
        # asof6).
        gc.collect(1)

    # Handed over once the page is made: the two would share one interpreter's lock.
    return answer if checks.start(subject, whole, held) else None


def check_whole(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    entries: Sequence[IndexEntry],
    merkle: MerkleLog | None,
    monotonic: float,
) -> Checked:
    """The whole record read, verified, decoded and projected once (as the full path does)."""
    return check(app, views, subject, entries, merkle, monotonic)[0]
