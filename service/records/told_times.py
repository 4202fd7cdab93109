"""A local time told in words as `strftime` tells it, the day's words made once a day: a
page of 500 heartbeats told each one's "Last heard on Mon 23 Nov 2026 at 09:01:02 GMT"
through two `strftime`s, ~4 µs each, ~4 ms of the request on the event loop
(docs/performance.md, asof11). The day's words (`%a %d %b %Y`) are `strftime`'s own, kept
by date; the time of day is plain digits, as `%H:%M:%S` writes them in any locale."""

from __future__ import annotations

from datetime import date, datetime

DAYS_KEPT = 4_000
"""Days' words kept at most (a record spans a few days; cleared, not grown, past this)."""

_DAYS: dict[date, str] = {}


def day_words(local: datetime) -> str:
    """`f"{local:%a %d %b %Y}"` ('Mon 23 Nov 2026'), told once a date."""
    day = local.date()
    said = _DAYS.get(day)
    if said is None:
        if len(_DAYS) >= DAYS_KEPT:
            _DAYS.clear()
        said = _DAYS[day] = f"{local:%a %d %b %Y}"
    return said


def clock_words(local: datetime) -> str:
    """`f"{local:%H:%M:%S}"` ('09:01:02'), without `strftime`."""
    return f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def forget_days() -> None:
    """Tell every day afresh from now on, as a process's first page or export does
    (`export.forget_told_times`, the benchmarks' cold figures)."""
    _DAYS.clear()
