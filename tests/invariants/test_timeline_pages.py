"""Whatever the page size, a record's pages read one after another are the record: each row
once, in order, none left out; `total` is the whole count on every page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.records.record_shape import Page

START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _events(gaps: list[int], seconds: list[int]) -> list[tuple[int, Any]]:
    positions, at = [], 0
    for gap in gaps:
        at += gap
        positions.append(at)
    return [
        (p, SimpleNamespace(timestamp=START + timedelta(seconds=s)))
        for p, s in zip(positions, seconds, strict=False)
    ]


@given(
    gaps=st.lists(st.integers(1, 5), max_size=40),
    seconds=st.lists(st.integers(0, 60), min_size=40, max_size=40),
    size=st.integers(1, 45),
    since=st.none() | st.integers(0, 60),
)
def test_pages_in_turn_are_the_whole_record(
    gaps: list[int], seconds: list[int], size: int, since: int | None
) -> None:
    events = _events(gaps, seconds)
    from_ = None if since is None else START + timedelta(seconds=since)
    whole, total, last = Page(limit=None, since=from_).of(events)
    assert last is None and total == len(whole)
    read: list[int] = []
    after = 0
    while True:
        chosen, count, next_after = Page(after=after, limit=size, since=from_).of(events)
        assert count == total and len(chosen) <= size
        read += chosen
        if next_after is None:
            break
        assert len(chosen) == size and next_after == events[chosen[-1]][0]
        after = next_after
    assert read == whole
