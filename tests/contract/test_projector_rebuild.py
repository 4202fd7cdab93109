"""A rebuild (big batches, writes pipelined with projecting) gives the views a catch-up gives."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.projector import VIEW_NAME
from service.adapters.event_store import eventsourcing_env
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from tests.invariants.rebuild_check import rebuilt_and_caught_up
from tests.worlds import World, a_trust_with_lone_visitors

OLD_STORE = Path(__file__).parent.parent / "fixtures" / "store-2026-12.sqlite3"


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


def test_the_december_2026_store_rebuilds_to_its_catch_up(tmp_path: Path) -> None:
    """Old stores still rebuild: the store written by December 2026's code (alerts, texts,
    notifications, visits, devices, sign-ins) gives, rebuilt, what the catch-up gives."""
    copy = tmp_path / "events.sqlite3"
    shutil.copyfile(OLD_STORE, copy)
    app = Lonewatch(eventsourcing_env(f"sqlite:///{copy}"), FakeClock())
    try:
        rebuilt, caught_up = rebuilt_and_caught_up(app, batch=13, sizes=[1, 7, 50], cache=5)
    finally:
        app.close()
    assert len(rebuilt["docs"]) > 40 and len(rebuilt["index"]) > 40
    assert rebuilt == caught_up
