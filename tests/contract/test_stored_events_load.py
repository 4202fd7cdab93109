"""A store written by the code of December 2026 still loads, whatever has moved since.

eventsourcing stores each event's topic (`module:Class.Event`) and resolves it when the
event is read: a domain class moved to another module without its old topic registered
makes every store already written unreadable. tests/fixtures/store-2026-12.sqlite3 was
written once by that code (tests/fixtures/make_store.py, through the production paths)
and is never regenerated; this test opens a copy of it with today's code.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from projections.projector import Projector
from projections.store import ViewStore, open_view_store
from service.adapters.event_store import eventsourcing_env, views_location
from service.adapters.sealing import verify_stream
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.records.timeline import timeline

STORE = Path(__file__).parent.parent / "fixtures" / "store-2026-12.sqlite3"


class Opened:
    def __init__(self, app: Lonewatch, views: ViewStore) -> None:
        self.app, self.views = app, views


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Opened]:
    copy = tmp_path / "events.sqlite3"
    shutil.copyfile(STORE, copy)
    url = f"sqlite:///{copy}"
    app = Lonewatch(eventsourcing_env(url), FakeClock())
    views = open_view_store(views_location(url))
    yield Opened(app, views)
    views.close()
    app.close()


def originators(app: Lonewatch) -> dict[UUID, str]:
    """Every aggregate in the store, with the topic its first event was stored under."""
    found: dict[UUID, str] = {}
    start = 1
    while batch := app.recorder.select_notifications(start=start, limit=500):
        for notification in batch:
            found.setdefault(UUID(str(notification.originator_id)), notification.topic)
        start = batch[-1].id + 1
    return found


def test_every_aggregate_in_the_old_store_loads_and_its_seals_still_hold(opened: Opened) -> None:
    found = originators(opened.app)
    assert len(found) > 40
    kinds: set[str] = set()
    for originator_id in found:
        aggregate: Any = opened.app.repository.get(originator_id)
        assert aggregate.id == originator_id
        kinds.add(type(aggregate).__name__)
        check = verify_stream(opened.app.recorder, originator_id)
        assert check.ok, check.problems()
    assert kinds >= {
        "Alert",
        "ApiToken",
        "ConsoleSession",
        "Device",
        "DeviceMessage",
        "InboundSms",
        "Notification",
        "PhoneNumber",
        "RecordAccess",
        "RejectedDeviceMessage",
        "School",
        "Staff",
        "User",
        "Visit",
        "Whereabouts",
    }


def test_the_views_rebuilt_from_the_old_store_tell_what_happened(opened: Opened) -> None:
    projector = Projector(opened.app.recorder, opened.app.mapper, opened.views)
    assert projector.rebuild() == projector.head()

    alerts = opened.views.find("alert", limit=100)
    assert {a["kind"] for a in alerts} >= {"sos", "fall", "duress", "overdue"}
    assert all(a["state"] == "resolved" for a in alerts)
    [sos] = [a for a in alerts if a["kind"] == "sos"]
    assert sos["outcome"] == "false_alarm"

    [visit] = opened.views.find("visit", limit=10)
    assert visit["ref"] == "fx-pair" and visit["state"] == "reported"
    steps = [r["summary"] for r in timeline(opened.app, opened.views, f"visit:{visit['id']}")]
    assert "overdue step 2: reception rings the pupil's home" in steps
    assert steps[-1] == "reported by p-patel (staff): completed"
    assert visit["ladder_ended"] is not None

    rows = timeline(opened.app, opened.views, f"alert:{sos['id']}")
    summaries = [r["summary"] for r in rows]
    assert summaries[:2] == ["device sos-0001 sent sos", "sos alert raised"]
    sources = {r["source"] for r in rows}
    assert {"policy:tier1", "policy:tier2", "policy:tier3", "policy:renotify1"} <= sources
    assert any(s.endswith("failed (HTTP 500 from provider); gave up") for s in summaries)
    assert any("not retried" in s for s in summaries)  # the refused number
    assert "resolved by dsl1 (DSL): false alarm - pressed in a pocket" in summaries
    assert sources >= {"policy:taken", "policy:refused"}
