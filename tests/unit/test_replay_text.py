"""`lonewatch replay` as text tells each time as the school's clock showed it, with the zone,
names people as they are known, and folds the outbox's machinery unless asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.entrypoints.cli.replay import _instant, print_timeline


def row(position: int, at: datetime, summary: str, *, detail: bool = False) -> dict[str, Any]:
    return {
        "position": position,
        "recorded_at": at,
        "sealed": True,
        "source": "operator:reception1",
        "who": "reception1 (contact centre)",
        "summary": summary,
        "detail": detail,
    }


RECORD = {
    "events": [
        row(1, datetime(2026, 7, 1, 8, 0, 5, 250_000, tzinfo=UTC), "sos alert raised"),
        row(2, datetime(2026, 7, 1, 8, 0, 6, tzinfo=UTC), "text to A. Lead: try 1", detail=True),
        row(3, datetime(2026, 7, 1, 8, 0, 52, tzinfo=UTC), "taken by reception1"),
    ],
    "integrity": {"verified": True, "events": 3, "streams": 1, "problems": []},
}
LONDON = ZoneInfo("Europe/London")


def test_times_are_the_schools_with_the_zone_and_machinery_folded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_timeline(RECORD, "alert:x", LONDON, "Lancaster School")
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "Timeline of alert:x (3 events); times are Lancaster School's (Europe/London)"
    )
    assert "Wed 01 Jul 2026 09:00:05.250 BST  reception1 (contact centre)" in lines[1]
    assert "try 1" not in "\n".join(lines)
    assert "(1 row of delivery machinery not shown: --detail)" in lines
    assert "UTC" not in "\n".join(lines) and "+00:00" not in "\n".join(lines)


def test_detail_shows_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    print_timeline(RECORD, "alert:x", LONDON, "Lancaster School", detail=True)
    assert "text to A. Lead: try 1" in capsys.readouterr().out


def test_an_instant_without_an_offset_is_the_schools_wall_clock() -> None:
    assert _instant("2026-07-01T09:00:05", LONDON) == datetime(2026, 7, 1, 8, 0, 5, tzinfo=UTC)
    assert _instant("2026-07-01T09:00:05+00:00", LONDON).hour == 9
