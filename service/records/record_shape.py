"""A record's answer as every reading of one gives it: which rows a page holds (`Page`),
the API's shape (`record_of`), and the verdict while the whole check is still reading.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def record_of(
    subject: str,
    *,
    as_of: datetime | None,
    state: Any,
    events: list[dict[str, Any]],
    total: int,
    next_after: int | None,
    integrity: dict[str, Any],
) -> dict[str, Any]:
    """A record as every reading of one answers it (the full path, a page from a checked
    record, a first page while checking): the API's shape, made in one place."""
    kind, _, key = subject.partition(":")
    return {
        "subject": {kind: key},
        "as_of": as_of,
        "state": state,
        "events": events,
        "total": total,
        "next_after": next_after,
        "integrity": integrity,
    }


def while_checking(integrity: dict[str, Any]) -> dict[str, Any]:
    """The verdict on what an answer made before the whole check read: false when any of
    it is altered (known now), else null (the rest is not known yet); `checking` until
    the whole check is done (service/records/first_page.py, instant_page.py)."""
    integrity["verified"] = None if integrity["verified"] else False
    integrity["checked_at"] = None
    integrity["checking"] = True
    return integrity


@dataclass(frozen=True)
class Page:
    """Which rows of a record to word: those recorded at positions after `after`, at or
    after `since` (when given), at most `limit` of them (all, when None)."""

    after: int = 0
    limit: int | None = None
    since: datetime | None = None

    def of(self, events: list[tuple[int, Any]]) -> tuple[list[int], int, int | None]:
        """The page's indices into `events` (in recorded order), how many events the record
        has (from `since`), and the position to ask for the next page after (None: the last)."""
        return self.of_stamps([(position, event.timestamp) for position, event in events])

    def of_stamps(self, stamps: list[tuple[int, datetime]]) -> tuple[list[int], int, int | None]:
        """`of`, given each event's (position, recorded time)."""
        since = self.since
        wanted = [i for i, (_, at) in enumerate(stamps) if since is None or at >= since]
        total = len(wanted)
        first = bisect_right([stamps[i][0] for i in wanted], self.after)
        rest = wanted[first:]
        taken = rest if self.limit is None else rest[: self.limit]
        more = len(taken) < len(rest)
        return taken, total, stamps[taken[-1]][0] if more else None
