"""A rebuild (big batches, writes pipelined with projecting) gives the views a catch-up gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from projections.projector import VIEW_NAME
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


def _views(world: World, alert_ids: list[str]) -> dict[str, Any]:
    subjects = ["device:sos-0001", "device:sos-0002", "staff:s-jones"]
    subjects += [f"alert:{a}" for a in alert_ids]
    return {
        "docs": {
            kind: sorted(world.views.find(kind, limit=10_000), key=lambda d: str(d.get("id")))
            for kind in ("device", "alert", "notification", "staff", "school")
        },
        "index": {s: world.views.index(s) for s in subjects},
        "position": world.projector.position(),
    }


def test_a_rebuild_in_pipelined_batches_equals_a_catch_up(world: World) -> None:
    alerts = []
    for i in range(60):
        device = "sos-0001" if i % 2 else "sos-0002"
        kind = "sos" if i % 20 == 0 else "heartbeat"
        recorded = world.send(device, kind, {"id": f"m-{i}", "battery": i})
        if recorded.alert_id is not None:
            alerts.append(str(recorded.alert_id))
    world.projector.catch_up()
    expected = _views(world, alerts)

    world.views.reset(VIEW_NAME)
    reached = world.projector.rebuild(batch_size=7)  # many batches: writes overlap projecting

    assert reached == world.projector.head()
    assert _views(world, alerts) == expected
    device = world.views.get("device", "sos-0002")
    assert device is not None and device["counts"] == {"heartbeat": 27, "sos": 3}


def test_start_up_far_behind_rebuilds_and_then_catches_up(world: World) -> None:
    """Start-up with dropped views takes the rebuild's path and reaches the catch-up's views;
    near the head it catches up batch by batch, as before."""
    alerts = []
    for i in range(30):
        recorded = world.send("sos-0001", "sos" if i % 10 == 0 else "heartbeat", {"id": f"s-{i}"})
        if recorded.alert_id is not None:
            alerts.append(str(recorded.alert_id))
    world.projector.catch_up()
    expected = _views(world, alerts)

    world.views.reset(VIEW_NAME)
    behind = world.projector.catch_up_at_start(far_behind=5)
    assert behind == world.projector.head() > 5
    assert _views(world, alerts) == expected
    assert world.projector.catch_up_at_start(far_behind=5) == 0
