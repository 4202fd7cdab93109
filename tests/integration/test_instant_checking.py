"""A page as of an instant of a long record with no kept check, answered from the events
recorded by then while the whole record is checked in the background (service/records/
instant_page.py, instant_cut.py): the full path's rows, total and state as of the
instant, for any instant and page; never "verified" before the whole check; "failed" at
once when an event it was made from is altered; an alteration elsewhere shown once the
whole check is done."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.store import PostgresViewStore
from service.adapters.merkle_log import MerkleLog
from service.domain.devices.messages import DeviceMessage
from service.records import instant_cut, pages
from service.records.record_cache import RecordCache
from service.records.record_shape import Page
from service.records.replay import incident_record
from service.records.verdicts import record_verdict
from service.records.whole_checks import WholeChecks
from tests.integration.test_first_page_checking import _page, full_of, paged
from tests.integration.test_first_page_checking import checks as checks  # the fixture
from tests.integration.test_integrity import tamper
from tests.integration.test_record_pages import HEARTBEATS, as_sent, heartbeats
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

SUBJECT = "device:sos-0001"  # 30 heartbeats and an alert's few events


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few samples and a short margin, so that 30 events exercise the search's stretches."""
    monkeypatch.setattr(instant_cut, "SAMPLES", 4)
    monkeypatch.setattr(instant_cut, "MARGIN", 3)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The background check waits for this before it checks (set it to let it finish); a
    check made inline (an instant before anything was recorded) is not held."""
    gate = threading.Event()
    whole = pages.check_whole

    def gated(*args: Any) -> Any:
        if threading.current_thread().name.startswith("record-check"):
            assert gate.wait(30), "the test never let the whole check run"
        return whole(*args)

    monkeypatch.setattr(pages, "check_whole", gated)
    yield gate
    gate.set()


def _unchecked(sent: dict[str, Any]) -> dict[str, Any]:
    """An answer less what only the whole check knows (its verdict, when it was made)."""
    integrity = {k: v for k, v in sent["integrity"].items() if k not in ("verified", "checking")}
    return sent | {"integrity": integrity}


def _stamps(world: World) -> list[datetime]:
    rows = full_of(world, page=Page())["events"]
    return [datetime.fromisoformat(r["recorded_at"]) for r in rows]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cold_instant_is_the_full_paths_answer_and_never_verified(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    stamps = _stamps(world)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def same(data: st.DataObject) -> None:
        at = data.draw(st.sampled_from(stamps))
        instant = at - timedelta(milliseconds=data.draw(st.sampled_from([0, 1])))
        page = Page(
            after=data.draw(st.integers(0, 200)),
            limit=data.draw(st.integers(1, len(stamps) + 2)),
        )
        cold = paged(world, RecordCache(), checks, as_of=instant, page=page)
        full = as_sent(
            incident_record(
                world.app,
                world.views,
                SUBJECT,
                as_of=instant,
                page=page,
                merkle=MerkleLog(world.app.recorder),
            )
        )
        assert _unchecked(cold) == _unchecked(full)
        if instant < stamps[0]:  # nothing recorded by then: checked whole first
            return
        most = cold["total"] + instant_cut.MARGIN >= len(stamps) * instant_cut.WHOLE_FROM
        if most:  # most of the record: checked whole before the answer, not again
            assert "checking" not in cold["integrity"]
            assert cold["integrity"]["verified"] is True
        else:  # answered before the whole check
            assert cold["integrity"]["checking"] is True
            assert cold["integrity"]["verified"] is None  # never "verified" unchecked
            assert checks.running(SUBJECT)

    same()


def _heartbeat(world: World, index: int) -> dict[str, Any]:
    row: dict[str, Any] = full_of(world, page=Page())["events"][index]
    assert row["data"]["kind"] == "heartbeat", row
    return row


def _altered(world: World, row: dict[str, Any], back: bool = False) -> None:
    seq = row["data"]["fields"]["seq"].encode()
    old, new = (seq, b"x" * len(seq)) if not back else (b"x" * len(seq), seq)
    tamper(world.app, UUID(row["aggregate_id"]), row["version"], old, new)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_event_the_answer_was_made_from_altered_fails_it_at_once(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    """Off the page but before the instant: its state was projected through it."""
    stamps = _stamps(world)
    heartbeats = [
        i
        for i, r in enumerate(full_of(world, page=Page())["events"])
        if r["data"]["kind"] == "heartbeat"
    ]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(heartbeats[2:]), st.data())
    def fails(altered: int, data: st.DataObject) -> None:
        instant = stamps[data.draw(st.integers(altered, len(stamps) - 1))]
        row = _heartbeat(world, altered)
        _altered(world, row)
        try:
            cold = paged(world, RecordCache(), checks, as_of=instant, page=Page(limit=2))
            assert cold["integrity"].get("checking", True) is True
            assert cold["integrity"]["verified"] is False
            assert [r["sealed"] for r in cold["events"]] == [True, True]
        finally:
            _altered(world, row, back=True)

    fails()


def test_an_event_after_the_instant_altered_shows_once_the_whole_check_is_done(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    stamps = _stamps(world)
    row = _heartbeat(world, len(stamps) - 1)
    _altered(world, row)
    cache = RecordCache()
    cold = paged(world, cache, checks, as_of=stamps[10], page=Page(limit=5))
    assert cold["integrity"]["verified"] is None and cold["integrity"]["checking"] is True
    merkle = MerkleLog(world.app.recorder)
    asked = {"merkle": merkle, "cache": cache, "checks": checks}
    waiting = record_verdict(world.app, world.views, SUBJECT, **asked)  # type: ignore[arg-type]
    assert waiting["integrity"]["verified"] is None
    held.set()
    checks.wait(SUBJECT)
    verdict = record_verdict(world.app, world.views, SUBJECT, **asked)  # type: ignore[arg-type]
    assert verdict["integrity"]["verified"] is False
    # The instant's own answer, checked now, is the full path's (its events are whole).
    warm = paged(world, cache, checks, as_of=stamps[10], page=Page(limit=5))
    assert "checking" not in warm["integrity"]
    assert warm == full_of(world, as_of=stamps[10], page=Page(limit=5))


def test_an_instant_before_anything_was_recorded_is_checked_first(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    held.set()
    before = _stamps(world)[0] - timedelta(seconds=1)
    answer = _page(world, RecordCache(), checks, as_of=before)
    assert "checking" not in answer["integrity"] and answer["events"] == []
    assert not checks.running(SUBJECT)


def test_an_event_recorded_out_of_order_just_after_the_instant_is_not_missed(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    """A save that committed late (recorded before the instant, stored after events
    recorded after it) is among the events the cold answer reads past its place: the
    answer is the full path's, made from the whole check."""
    held.set()
    stamps = _stamps(world)
    world.app.save(
        DeviceMessage(
            device="sos-0001",
            kind="heartbeat",
            message_id=None,
            device_ts=None,
            fields={"battery": 11, "seq": "late"},
            school="lancaster",
            staff="s-jones",
            timestamp=stamps[-3] - timedelta(milliseconds=500),
        )
    )
    heartbeats(world, 1, start=HEARTBEATS)  # the samples find the in-order place
    world.projector.catch_up()
    MerkleLog(world.app.recorder).catch_up()
    page = Page(limit=40)
    answer = paged(world, RecordCache(), checks, as_of=stamps[-3], page=page)
    assert "checking" not in answer["integrity"]
    assert answer == full_of(world, as_of=stamps[-3], page=page)
    assert answer["state"]["device"]["battery"] == 11


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_cold_instant_takes_one_views_connection_index_and_all(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    """The index, the directory's documents and staff names of a cold page as of an instant
    are read through one connection from the views' pool (each taken is tested with a round
    trip of its own), the index's too (service/records/pages.py `_paged`)."""
    views = world.views
    assert isinstance(views, PostgresViewStore)
    instant = _stamps(world)[4]
    taken = int(views._pool.get_stats().get("requests_num", 0))
    cold = paged(world, RecordCache(), checks, as_of=instant, page=Page(limit=3))
    assert cold["integrity"]["checking"] is True  # answered before the whole check
    assert int(views._pool.get_stats().get("requests_num", 0)) == taken + 1
