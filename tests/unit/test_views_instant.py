"""The device view writes each heartbeat's own time, though it remembers the last one
written (a gateway group's events share one timestamp object: projections/views.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from projections.core import Effects
from projections.views import _instant, project
from service.domain.devices.messages import received


def _heartbeat(at: datetime) -> object:
    return received(
        uuid4(),
        device="dev-1",
        kind="heartbeat",
        msg_id=None,
        device_ts=None,
        fields={"battery": 50, "lat": 51.5, "lon": -0.1},
        school="s1",
        staff=None,
        timestamp=at,
    )


def test_the_remembered_instant_is_the_one_asked_about() -> None:
    first = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    equal_but_other = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    later = first + timedelta(seconds=1)
    assert _instant(first) == first.isoformat()
    assert _instant(first) == first.isoformat()  # remembered
    assert _instant(equal_but_other) == first.isoformat()
    assert _instant(later) == later.isoformat()
    assert _instant(first) == first.isoformat()


def test_each_heartbeat_shows_its_own_time_and_position_time() -> None:
    docs: dict[tuple[str, str], dict[str, object]] = {}

    def read(kind: str, key: str) -> dict[str, object] | None:
        return docs.get((kind, key))

    start = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    for seconds in (0, 0, 5, 5, 9):
        at = start + timedelta(seconds=seconds)
        effects: Effects = project(_heartbeat(at), read)  # type: ignore[arg-type]
        docs.update(effects.docs)
        device = docs[("device", "dev-1")]
        assert device["last_seen"] == at.isoformat()
        assert device["location"]["at"] == at.isoformat()  # type: ignore[index]
    assert docs[("device", "dev-1")]["counts"] == {"heartbeat": 5}
