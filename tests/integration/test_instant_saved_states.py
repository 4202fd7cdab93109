"""A cold page as of an instant made from the saved states of the record's last check
(service/records/instant_page.py): a saved state and the events after it projected give
what projecting every event from the start gives, for any checkpoint spacing, instant
and page; a saved state is not used past an event altered since, nor when the
directory's documents it was made with have changed; and what fails the answer at once
still fails it."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.store import DocWrite
from service.adapters.merkle_log import MerkleLog
from service.adapters.sealing import GENESIS, HEADER_BYTES, MAGIC, seal
from service.records import checked_pages, instant_page, pages, record_cache
from service.records.record_cache import RecordCache
from service.records.record_shape import Page
from service.records.whole_checks import WholeChecks
from tests.integration.test_first_page_checking import checks as checks  # the fixture
from tests.integration.test_first_page_checking import full_of, paged
from tests.integration.test_instant_checking import _altered, _heartbeat, _stamps, _unchecked
from tests.integration.test_instant_checking import held as held  # the fixture
from tests.integration.test_instant_checking import small as small  # the fixture
from tests.integration.test_integrity import tamper
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

SUBJECT = "device:sos-0001"


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The last event each cold answer took from a saved state (-1: none)."""
    found: list[int] = []
    real = instant_page._kept

    def spy(*args: Any) -> int:
        found.append(real(*args))
        return found[-1]

    monkeypatch.setattr(instant_page, "_kept", spy)
    return found


def _step(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    for module in (record_cache, checked_pages, instant_page, pages):
        monkeypatch.setattr(module, "STEP", step)


def _saved(world: World) -> RecordCache:
    """A cache holding only the saved states of a whole check (its minute is over)."""
    cache = RecordCache()
    entries = world.views.index(SUBJECT)
    merkle = MerkleLog(world.app.recorder)
    cache.put(SUBJECT, pages.check_whole(world.app, world.views, SUBJECT, entries, merkle, 0.0))
    cache.drop(SUBJECT)
    assert cache.get(SUBJECT, entries) is None and cache.saved(SUBJECT) is not None
    return cache


def _before_most(stamps: list[datetime]) -> list[datetime]:
    """Instants answered before the whole check (not most of the record)."""
    count = len(stamps)
    return [at for i, at in enumerate(stamps) if i + 1 + 3 < count * 0.75]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_saved_state_and_the_rest_projected_are_the_record_projected_whole(
    world: World, held: threading.Event, checks: WholeChecks, kept: list[int]
) -> None:
    stamps = _stamps(world)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def same(data: st.DataObject) -> None:
        with pytest.MonkeyPatch.context() as patch:
            _step(patch, data.draw(st.sampled_from([1, 2, 3, 4, 7])))
            instant = data.draw(st.sampled_from(_before_most(stamps)))
            page = Page(
                after=data.draw(st.integers(0, 200)),
                limit=data.draw(st.integers(1, len(stamps) + 2)),
            )
            cold = paged(world, _saved(world), checks, as_of=instant, page=page)
            full = full_of(world, as_of=instant, page=page)
            assert _unchecked(cold) == _unchecked(full)
            assert cold["integrity"]["checking"] is True
            assert cold["integrity"]["verified"] is None  # never "verified" unchecked

    same()
    assert max(kept) >= 0, "no answer was made from a saved state"


def test_an_event_altered_since_the_saved_state_fails_the_answer_and_is_projected_as_stored(
    world: World,
    held: threading.Event,
    checks: WholeChecks,
    kept: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The saved state was made from the event before it was altered: the answer is not
    made from it past that event (the full path projects the altered bytes)."""
    _step(monkeypatch, 2)
    stamps = _stamps(world)
    latest = len(_before_most(stamps)) - 1
    rows = full_of(world, page=Page())["events"]
    heartbeats = [i for i, r in enumerate(rows) if r["data"]["kind"] == "heartbeat"]

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from([i for i in heartbeats if i <= latest]), st.data())
    def fails(altered: int, data: st.DataObject) -> None:
        cache = _saved(world)
        instant = stamps[data.draw(st.integers(altered, latest))]
        row = _heartbeat(world, altered)
        resealed = data.draw(st.booleans())
        (_resealed if resealed else _altered)(world, row)
        try:
            page = Page(limit=data.draw(st.integers(1, 40)))
            cold = paged(world, cache, checks, as_of=instant, page=page)
            assert cold["integrity"]["verified"] is False
            assert _unchecked(cold) == _unchecked(full_of(world, as_of=instant, page=page))
            assert kept[-1] < altered
        finally:
            (_resealed if resealed else _altered)(world, row, back=True)

    fails()


def _resealed(world: World, row: dict[str, Any], back: bool = False) -> None:
    """`_altered`, its seal made again to fit (what someone who knows the sealing might
    do): the seal verifies; the Merkle log and the saved state's seal do not."""
    stream, version = UUID(row["aggregate_id"]), int(row["version"])
    (stored,) = world.app.recorder.select_events(stream, gt=version - 1, lte=version)
    state = bytes(stored.state)
    seq = row["data"]["fields"]["seq"].encode()
    old, new = (seq, b"x" * len(seq)) if not back else (b"x" * len(seq), seq)
    assert version == 1  # a heartbeat is a stream of its own: its seal chains to nothing
    body = state[HEADER_BYTES:].replace(old, new)
    tamper(
        world.app,
        stream,
        version,
        state,
        MAGIC + seal(GENESIS, stream, 1, stored.topic, body) + body,
    )


def test_a_saved_state_made_with_another_directory_is_not_used(
    world: World,
    held: threading.Event,
    checks: WholeChecks,
    kept: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device's carrier renamed after the check: every state says the new name, as
    projecting from the start with the directory as it stands now says it."""
    _step(monkeypatch, 2)
    cache = _saved(world)
    device = world.views.get("device", "sos-0001")
    assert device is not None and device.get("staff_name")
    renamed = device | {"staff_name": "Someone Else"}
    world.views.commit(
        "test-directory",
        expected=0,
        position=1,
        docs=[DocWrite("device", "sos-0001", device.get("school"), None, renamed)],
        index=[],
    )
    instant = _before_most(_stamps(world))[-1]
    cold = paged(world, cache, checks, as_of=instant, page=Page(limit=5))
    full = full_of(world, as_of=instant, page=Page(limit=5))
    assert _unchecked(cold) == _unchecked(full)
    assert full["state"]["device"]["staff_name"] == "Someone Else"
    assert kept == [-1]
