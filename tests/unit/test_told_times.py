"""A time told by told_times.py is the text `strftime` tells (the day's words kept by date
are the very words of that date, whatever the time of day or the zone)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from service.records.told_times import clock_words, day_words

ZONES = st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"])


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), ZONES)
def test_a_local_time_is_told_as_strftime_tells_it(naive: datetime, zone: str) -> None:
    local = naive.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone))
    assert day_words(local) == f"{local:%a %d %b %Y}"
    assert clock_words(local) == f"{local:%H:%M:%S}"


def test_a_day_is_told_the_same_at_every_time_of_it() -> None:
    zone = ZoneInfo("Europe/London")
    morning = datetime(2026, 11, 23, 0, 0, 1, tzinfo=zone)
    evening = datetime(2026, 11, 23, 23, 59, 59, tzinfo=zone)
    assert day_words(morning) == day_words(evening) == "Mon 23 Nov 2026"
    assert clock_words(evening) == "23:59:59"
