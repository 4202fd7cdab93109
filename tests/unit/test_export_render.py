"""The printable export's text helpers (service/records/export.py): the escapes made in
one pass over many texts, and the recorded times kept told, say exactly what one call
per text says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.records.export import _all_e, _all_when_e, _e, _when, _when_e, forget_told_times

TEXTS = st.one_of(st.none(), st.just(""), st.text(), st.sampled_from(["<", "&amp;", "\x00", "'\""]))


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=12))
def test_escaping_many_texts_at_once_is_escaping_each(values: list[str | None]) -> None:
    assert _all_e(values) == [_e(v) for v in values]  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["Europe/London", "UTC", "Asia/Kolkata", "America/New_York"]),
    st.booleans(),
)
def test_a_kept_time_is_told_as_a_fresh_one(instant: datetime, zone: str, as_text: bool) -> None:
    value = instant.isoformat() if as_text else instant
    tz = ZoneInfo(zone)
    first = _when_e(value, tz)
    assert first == _when_e(value, tz) == _e(_when(value, tz))
    other = ZoneInfo("Pacific/Auckland")
    assert _when_e(value, other) == _e(_when(value, other))
    later = instant + timedelta(seconds=1)
    assert _when_e(later, tz) == _e(_when(later, tz))


class _Marked(tzinfo):
    """A zone whose name must be escaped (no real zone's is: each part is escaped anyway)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def tzname(self, dt: datetime | None) -> str:
        return "<b>&'"

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        max_size=8,
    ),
    st.sampled_from(["Europe/London", "UTC", "Asia/Kolkata", "America/New_York", "marked"]),
)
def test_times_told_many_at_once_are_each_told_alone(instants: list[datetime], zone: str) -> None:
    """`_all_when_e` (a page's rows) tells each instant as `_e(_when(...))` does, escaped in
    parts; the times are told again from what it kept."""
    forget_told_times()
    tz: Any = _Marked() if zone == "marked" else ZoneInfo(zone)
    values = [*instants, *instants[:2]]
    expected = [_e(_when(value, tz)) for value in values]
    assert _all_when_e(values, tz) == expected
    assert _all_when_e(values, tz) == expected
