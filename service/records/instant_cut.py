"""Where an instant cuts a long record, found from a few of its rows (issue 12: a page as
of an instant of a 10,000-event record with no kept check, service/records/pages.py).

The index lists a subject's events by position but not when each was recorded; that is
inside each stored event. Decoding all 10,000 to find the instant's place is the cost a
cold `as_of` page is to avoid, so this reads `SAMPLES` rows spread over the record (one
query), then the rows between the two samples either side of the instant (a second
query): the place it finds is right when recorded times grow with positions, which is
not trusted here. The caller reads, checks and decodes every event up to that place and
`MARGIN` after it, and answers from them only when those say the same
(`checked_pages.recorded_by`); otherwise the whole record is checked first, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.store import IndexEntry
from service.adapters.event_rows import notifications_at
from service.application.lonewatch import Lonewatch
from service.records.stored_rows import stored_rows_of

SAMPLES = 64
"""Rows read to find the stretch of the record the instant falls in (one query)."""
MARGIN = 100
"""Events after the instant's place read, checked and decoded with those before it, so
that an event recorded out of order just after the cut (a save that committed late) is
seen and the whole record checked first. An event recorded out of order further on than
this is found by the whole check the answer says is still running."""

WHOLE_FROM = 0.75
"""An instant whose events (and margin) are this share of the record or more: the whole
record is checked before the answer, as it was (a quarter more to read, against reading
three quarters again in the background)."""


def place_of(
    app: Lonewatch, entries: Sequence[IndexEntry], as_of: datetime, conn: Any = None
) -> int | None:
    """How many of `entries` were recorded by `as_of`, were recorded times to grow with
    positions (None: a listed event is not in the store: the whole check words that).
    `conn`: the page's connection to the store, held for its reads (`one_connection`)."""
    count = len(entries)
    stride = max(1, -(-count // SAMPLES))
    sampled = list(range(stride - 1, count, stride))
    stamps = _stamps(app, entries, sampled, conn)
    if stamps is None:
        return None
    later = [i for i in sampled if stamps[i] > as_of]
    end = later[0] if later else count
    before = [i for i in sampled if i < end]
    start = before[-1] + 1 if before else 0
    between = _stamps(app, entries, range(start, end), conn)
    if between is None:
        return None
    return next((i for i in range(start, end) if between[i] > as_of), end)


def _stamps(
    app: Lonewatch, entries: Sequence[IndexEntry], indexes: Sequence[int], conn: Any = None
) -> dict[int, datetime] | None:
    """The recorded time of each of these entries, decoded from its row as stored."""
    if not indexes:
        return {}
    rows = {
        int(n.id): n
        for n in notifications_at(app.recorder, [entries[i].position for i in indexes], conn=conn)
    }
    memo = stored_rows_of(app)
    to_domain_event = app.mapper.to_domain_event
    found: dict[int, datetime] = {}
    for i in indexes:
        row = rows.get(entries[i].position)
        if row is None or row.originator_id != UUID(entries[i].originator_id):
            return None
        found[i] = memo.event(to_domain_event, row).timestamp
    return found
