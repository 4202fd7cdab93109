"""The first page of a long record answered from its own rows while the whole record is
checked in the background (service/records/first_page.py, whole_checks.py): its rows are
the full path's, row for row; its verdict is "checking" (never "verified" for rows not
checked), "failed" at once when a row it shows is altered; and once the whole check is
done, pages are the full path's again, an alteration anywhere shown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from projections.doc_text import dumps
from service.adapters.merkle_log import MerkleLog
from service.records import pages
from service.records.pages import record_page
from service.records.record_cache import RecordCache
from service.records.record_shape import Page
from service.records.replay import incident_record
from service.records.whole_checks import WholeChecks
from tests.integration.test_integrity import tamper
from tests.integration.test_record_pages import as_sent
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

SUBJECT = "device:sos-0001"  # 30 heartbeats and an alert's few events


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The background check waits for this before it checks (set it to let it finish)."""
    gate = threading.Event()
    whole = pages.check_whole

    def gated(*args: Any) -> Any:
        assert gate.wait(30), "the test never let the whole check run"
        return whole(*args)

    monkeypatch.setattr(pages, "check_whole", gated)
    yield gate
    gate.set()


@pytest.fixture
def checks(world: World, held: threading.Event) -> Iterator[WholeChecks]:
    """A worker that answers every record of more than 5 events "checking" first; its
    check let through and done before the world closes."""
    made = WholeChecks(inline_up_to=5)
    yield made
    held.set()
    made.close()


def _page(world: World, cache: RecordCache, checks: WholeChecks, **asked: Any) -> Any:
    asked.setdefault("page", Page(limit=5))
    merkle = MerkleLog(world.app.recorder)
    return record_page(
        world.app,
        world.views,
        SUBJECT,
        merkle=merkle,
        cache=cache,
        checks=checks,
        zone=UTC,
        **asked,
    )


def page_of(world: World, cache: RecordCache, checks: WholeChecks, **asked: Any) -> Any:
    """The page as sent, every field."""
    return json.loads(dumps(_page(world, cache, checks, **asked)))


def paged(world: World, cache: RecordCache, checks: WholeChecks, **asked: Any) -> Any:
    """The page as sent less when the whole was checked (to compare with the full path)."""
    return as_sent(_page(world, cache, checks, **asked))


def full_of(world: World, **asked: Any) -> dict[str, Any]:
    merkle = MerkleLog(world.app.recorder)
    asked.setdefault("page", Page(limit=5))
    return as_sent(incident_record(world.app, world.views, SUBJECT, merkle=merkle, **asked))


def test_the_first_page_answers_from_its_rows_then_the_whole_verdict_follows(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    cache = RecordCache()
    full = full_of(world)
    first = page_of(world, cache, checks)
    assert first["events"] == full["events"]
    assert (first["total"], first["next_after"]) == (full["total"], full["next_after"])
    checking = first["integrity"]
    assert checking["checking"] is True and checking["verified"] is None
    assert checking["checked_at"] is None and first["state"] is None
    assert checks.running(SUBJECT)
    assert page_of(world, cache, checks)["integrity"]["checking"]  # asked again: one check
    held.set()
    checks.wait(SUBJECT)
    assert not checks.running(SUBJECT)
    warm = page_of(world, cache, checks)
    assert "checking" not in warm["integrity"] and warm["integrity"]["verified"] is True
    assert warm["integrity"]["checked_at"] is not None
    assert paged(world, cache, checks) == full


def test_an_altered_row_on_the_first_page_fails_at_once(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    """A tampered row must still show: the rows a page shows are checked before it answers."""
    cache = RecordCache()
    row = full_of(world)["events"][2]
    seq = row["data"]["fields"]["seq"].encode()
    tamper(world.app, UUID(row["aggregate_id"]), row["version"], seq, b"hb-sos-0001-999")
    first = page_of(world, cache, checks)
    assert first["integrity"]["verified"] is False and first["integrity"]["checking"]
    assert [r["sealed"] for r in first["events"]] == [True, True, False, True, True]
    held.set()
    checks.wait(SUBJECT)
    assert paged(world, cache, checks) == full_of(world)


def test_an_altered_row_elsewhere_is_never_shown_verified_and_fails_once_checked(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    cache = RecordCache()
    last = full_of(world, page=Page())["events"][-1]
    seq = last["data"]["fields"]["seq"].encode()
    tamper(world.app, UUID(last["aggregate_id"]), last["version"], seq, b"x-999")
    first = page_of(world, cache, checks)
    assert first["integrity"]["verified"] is None  # not known yet: never "verified"
    assert all(r["sealed"] for r in first["events"])
    held.set()
    checks.wait(SUBJECT)
    after = paged(world, cache, checks)
    assert after == full_of(world) and after["integrity"]["verified"] is False


def test_short_records_later_pages_and_whole_records_are_checked_first(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    """Only a long record's plain first page (and a page as of an instant:
    tests/integration/test_instant_checking.py) is answered before the whole check."""
    held.set()
    whole = full_of(world, page=Page())
    rows = whole["events"]
    asked: list[dict[str, Any]] = [
        {"page": Page(after=rows[0]["position"], limit=5)},
        {"page": Page(limit=5, since=datetime(2000, 1, 1, tzinfo=UTC))},
        {"page": Page()},
    ]
    for ask in asked:
        assert paged(world, RecordCache(), checks, **ask) == full_of(world, **ask)
        assert not checks.running(SUBJECT)
    checks.inline_up_to = whole["total"]
    assert paged(world, RecordCache(), checks) == full_of(world)
    assert not checks.running(SUBJECT)
