"""The verdict on a whole record alone, for a reader waiting for it (issue 12's follow-up).

A long record's first page answers "checking" while the whole record is checked in the
background (service/records/first_page.py); the console then asks every second whether
the verdict has come. Asking with a page made each of those questions a viewing of the
record in the audit trail, which a DSL preparing a case review reads as who opened what.
This answers the question alone: the integrity verdict, its counts and when the check
was made, from the check kept in the `RecordCache` (the same verdict a page carries,
`pages.whole_verdict`); no row, no state, nothing about a person. Not a viewing, so not
recorded (service/entrypoints/http/records.py).

A check in hand is never made twice: while the background worker has it the answer is
"checking". With none in hand and none kept (the worker full, its check failed, or kept
longer than the cache keeps one), the whole record is checked here, as a page would.
"""

from __future__ import annotations

from typing import Any

from projections.collector import collector_paused
from projections.store import ViewStore
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import summary
from service.application.lonewatch import Lonewatch
from service.records import pages
from service.records.checked_growth import extended
from service.records.record_cache import STEP, RecordCache
from service.records.whole_checks import WholeChecks


def record_verdict(
    app: Lonewatch,
    views: ViewStore,
    subject: str,
    *,
    merkle: MerkleLog | None,
    cache: RecordCache,
    checks: WholeChecks,
) -> dict[str, Any]:
    """`subject`'s whole record's verdict as a page words it (`integrity`), with `total`,
    the events the record holds; `integrity.checking` while the background check runs."""
    kind, _, key = subject.partition(":")
    with collector_paused():
        in_hand = checks.running(subject)  # before the cache: a check done between is found
        entries = views.index(subject)
        checked = cache.get(subject, entries)
        grown = cache.grown(subject, entries) if checked is None else None
        if grown is not None:
            checked = extended(app, views, grown, entries, merkle, STEP)
            if checked is not None:
                cache.put(subject, checked)
        if checked is None and in_hand:
            waiting = {"verified": None, "checking": True, "checked_at": None}
            return {"subject": {kind: key}, "total": len(entries), "integrity": waiting}
        if checked is None:
            checked = pages.check_whole(app, views, subject, entries, merkle, cache.monotonic())
            cache.put(subject, checked)
    count = len(checked.positions)
    if count:
        verdict, _ = pages.whole_verdict(checked, count, merkle is not None)
    else:  # nothing recorded: nothing altered
        verdict = summary([])
    integrity = {
        "verified": verdict["verified"],
        "streams": verdict["streams"],
        "events": verdict["events"],
        "problems": list(verdict["problems"]),
        "checked_at": checked.checked_at,
    }
    return {"subject": {kind: key}, "total": len(entries), "integrity": integrity}
