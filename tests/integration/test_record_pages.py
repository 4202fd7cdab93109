"""Pages served from a checked record (service/records/pages.py): the same answer as the
full path, row for row, as of any instant; an edit made in the database shows on the rows
it touches at once, on the whole record and the export at once, and on every page once the
check is older than its time to live (the bound docs/performance.md states)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.doc_text import dumps
from service.adapters.merkle_log import MerkleLog
from service.domain.alerts.alert import Outcome
from service.domain.devices.messages import DeviceMessage
from service.records import pages
from service.records.pages import record_page
from service.records.record_cache import TTL_SECONDS, RecordCache
from service.records.record_shape import Page
from service.records.replay import incident_record
from tests.integration.test_integrity import tamper
from tests.worlds import World, a_trust_with_lone_visitors

HEARTBEATS = 30


def heartbeats(world: World, count: int, start: int = 0) -> None:
    """`count` heartbeats of sos-0001, a second apart, each beside one of sos-0002."""
    for n in range(start, start + count):
        world.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        world.app.save(
            *(
                DeviceMessage(
                    device=device,
                    kind="heartbeat",
                    message_id=None,
                    device_ts=None,
                    fields={"battery": 90, "seq": f"hb-{device}-{n:03d}"},
                    school="lancaster",
                    staff=staff,
                    timestamp=world.clock.now(),
                )
                for device, staff in (("sos-0001", "s-jones"), ("sos-0002", "k-smith"))
            )
        )


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    world = a_trust_with_lone_visitors(database_url)
    heartbeats(world, HEARTBEATS // 2)
    recorded = world.press("sos-0001", "m1")
    assert recorded.alert_id is not None
    world.app.acknowledge_alert(recorded.alert_id, by="operator:reception1", via="api")
    world.app.resolve_alert(
        recorded.alert_id, outcome=Outcome.SAFE, note="called back, all fine", by="dsl:dsl1"
    )
    heartbeats(world, HEARTBEATS // 2, start=HEARTBEATS // 2)
    world.projector.catch_up()
    MerkleLog(world.app.recorder).catch_up()
    yield world
    world.close()


def as_sent(record: dict[str, Any]) -> dict[str, Any]:
    """The answer as the API sends it, less when the whole record was checked."""
    sent: dict[str, Any] = json.loads(dumps(record))
    sent["integrity"].pop("checked_at", None)
    heads = sent["integrity"].pop("heads")
    # A page carries the last seals of its own rows' streams (the full path: every stream's).
    sent["integrity"]["heads"] = {
        r["aggregate_id"]: heads[r["aggregate_id"]] for r in sent["events"]
    }
    return sent


def both(
    world: World, subject: str, cache: RecordCache, **asked: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    merkle = MerkleLog(world.app.recorder)
    full = incident_record(world.app, world.views, subject, merkle=merkle, **asked)
    paged = record_page(
        world.app, world.views, subject, merkle=merkle, cache=cache, zone=UTC, **asked
    )
    return as_sent(full), as_sent(paged)


def times(world: World, subject: str) -> list[datetime]:
    record = incident_record(world.app, world.views, subject)
    return [row["recorded_at"] for row in record["events"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_checked_record_pages_as_the_full_path_does(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any page, of any subject, as of any instant, from any start: the same bytes."""
    monkeypatch.setattr(pages, "STEP", 4)  # many checkpoints, pages across them
    alert = next(iter(world.views.find("alert")))["id"]
    subjects = ["device:sos-0001", "staff:s-jones", f"alert:{alert}"]
    known = {s: times(world, s) for s in subjects}
    cache = RecordCache()

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(subjects), st.data())
    def same(subject: str, data: st.DataObject) -> None:
        stamps = known[subject]
        instant = (
            st.none()
            | st.sampled_from(stamps)
            | st.sampled_from(stamps).map(lambda t: t - timedelta(milliseconds=1))
        )
        page = Page(
            after=data.draw(st.integers(0, 200)),
            limit=data.draw(st.integers(1, len(stamps) + 2)),
            since=data.draw(instant),
        )
        full, paged = both(world, subject, cache, as_of=data.draw(instant), page=page)
        assert paged == full

    same()


def test_an_edit_on_the_page_shows_at_once(world: World) -> None:
    """The rows a page shows are always read and checked from the database."""
    alert = UUID(next(iter(world.views.find("alert")))["id"])
    subject = f"alert:{alert}"
    cache = RecordCache()
    _, first = both(world, subject, cache, page=Page(limit=50))
    assert first["integrity"]["verified"]
    [resolved] = [r for r in first["events"] if r["event"] == "Alert.Resolved"]
    tamper(world.app, alert, resolved["version"], b"called back, all fine", b"no answer")
    full, paged = both(world, subject, cache, page=Page(limit=50))
    assert paged == full and not paged["integrity"]["verified"]
    assert [r["event"] for r in paged["events"] if not r["sealed"]] == ["Alert.Resolved"]


def test_an_edit_elsewhere_shows_on_the_whole_record_at_once_and_on_pages_within_the_ttl(
    world: World,
) -> None:
    """The bound of a cached verdict: a row no page has shown since the whole check, edited
    in the database, is trusted for at most TTL_SECONDS; the whole record and the export
    (never cached) show it at once."""
    now = [0.0]
    cache = RecordCache(monotonic=lambda: now[0])
    subject = "device:sos-0001"
    _, first = both(world, subject, cache, page=Page(limit=2))
    assert first["integrity"]["verified"] and first["next_after"] is not None
    last = incident_record(world.app, world.views, subject)["events"][-1]
    tamper(
        world.app,
        UUID(last["aggregate_id"]),
        last["version"],
        b"hb-sos-0001-029",
        b"hb-sos-0001-999",
    )
    _, trusted = both(world, subject, cache, page=Page(limit=2))
    assert trusted["integrity"]["verified"]  # within the bound: the check of a moment ago
    whole, _ = both(world, subject, cache, page=Page())
    assert not whole["integrity"]["verified"]
    merkle = MerkleLog(world.app.recorder)
    exported = incident_record(world.app, world.views, subject, merkle=merkle, with_proofs=True)
    assert not exported["integrity"]["verified"]
    now[0] += TTL_SECONDS + 1
    full, paged = both(world, subject, cache, page=Page(limit=2))
    assert paged == full and not paged["integrity"]["verified"]


def no_whole_check(*args: Any) -> Any:  # pragma: no cover - fails the test when called
    raise AssertionError("the whole record was checked again")


def test_events_recorded_since_the_check_are_on_the_next_page(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what was added is checked: new streams (heartbeats), and new events of a stream
    already checked (an alert taken and resolved while a DSL reads it)."""
    cache = RecordCache()
    _, device = both(world, "device:sos-0001", cache, page=Page(limit=5))
    recorded = world.press("sos-0001", "m2")
    assert recorded.alert_id is not None
    world.projector.catch_up()
    alert = f"alert:{recorded.alert_id}"
    _, raised = both(world, alert, cache, page=Page(limit=50))
    monkeypatch.setattr(pages, "check_whole", no_whole_check)
    heartbeats(world, 3, start=HEARTBEATS)
    world.app.acknowledge_alert(recorded.alert_id, by="operator:reception1", via="api")
    world.app.resolve_alert(recorded.alert_id, outcome=Outcome.SAFE, note="fine", by="dsl:dsl1")
    world.projector.catch_up()
    full, after = both(world, "device:sos-0001", cache, page=Page(limit=5))
    assert after == full and after["total"] > device["total"] + 3
    full, after = both(world, alert, cache, page=Page(limit=50))
    assert after == full and after["state"]["alert"]["state"] == "resolved"
    assert after["total"] > raised["total"]


def test_a_whole_record_read_again_is_the_same_bytes(world: World) -> None:
    """The second read takes its decoded events, seal checks and leaf hashes from what the
    first read kept by the stored bytes (service/records/stored_rows.py): nothing shown
    may differ, whole or as of any instant."""
    merkle = MerkleLog(world.app.recorder)
    for subject in ("device:sos-0001", "staff:s-jones"):
        stamps = times(world, subject)
        for as_of in (None, stamps[len(stamps) // 2]):
            first, again = (
                dumps(incident_record(world.app, world.views, subject, as_of=as_of, merkle=merkle))
                for _ in range(2)
            )
            assert again == first
