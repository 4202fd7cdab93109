"""A cold page as of an instant takes the last whole check's verdict on a block of streams
only when the block's rows and Merkle leaves, read now, are byte for byte what that
check read and found sound (service/records/sound_blocks.py): the answer is then the full
path's less the verdict; an event altered (resealed to fit or not), its leaf altered, or
its place in the index moved, in such a block fails the answer at once, as when every event is checked one by one; and
a saved state read back from the database proves nothing."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.adapters.merkle_log import MerkleLog
from service.records import instant_page, saved_states, sound_blocks
from service.records.record_shape import Page
from service.records.whole_checks import WholeChecks
from tests.integration.test_first_page_checking import checks as checks  # the fixture
from tests.integration.test_first_page_checking import full_of, paged
from tests.integration.test_instant_checking import _altered, _heartbeat, _stamps, _unchecked
from tests.integration.test_instant_checking import held as held  # the fixture
from tests.integration.test_instant_checking import small as small  # the fixture
from tests.integration.test_instant_saved_states import (
    SUBJECT,
    _before_most,
    _resealed,
    _saved,
    _step,
)
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World


@pytest.fixture
def proved(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of two streams; how many streams each cold answer took as proved."""
    monkeypatch.setattr(sound_blocks, "BLOCK", 2)
    found: list[int] = []
    real = instant_page.proved

    def spy(*args: Any) -> Any:
        made = real(*args)
        found.append(len(made[0]))
        return made

    monkeypatch.setattr(instant_page, "proved", spy)
    return found


def _leaf(world: World, row: dict[str, Any], back: bool = False) -> None:
    """What someone with database access might do to the log: rewrite an event's leaf."""
    stream, version = UUID(row["aggregate_id"]), int(row["version"])
    recorder: Any = world.app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            "SELECT leaf_hash FROM lw_merkle_leaves WHERE originator_id = ? AND "
            "originator_version = ?",
            (stream.hex, version),
        )
        (found,) = cursor.fetchone()
        changed = found[::-1]
        cursor.execute(
            "UPDATE lw_merkle_leaves SET leaf_hash = ? WHERE originator_id = ? AND "
            "originator_version = ?",
            (changed, stream.hex, version),
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_blocks_read_as_they_were_checked_give_the_full_paths_answer(
    world: World,
    held: threading.Event,
    checks: WholeChecks,
    proved: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stamps = _stamps(world)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def same(data: st.DataObject) -> None:
        with pytest.MonkeyPatch.context() as patch:
            _step(patch, data.draw(st.sampled_from([1, 2, 3, 7])))
            patch.setattr(sound_blocks, "BLOCK", data.draw(st.sampled_from([1, 2, 3, 5])))
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
    assert max(proved) > 0, "no block was proved"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("change", [_altered, _resealed, _leaf])
def test_a_change_in_a_block_the_last_check_found_sound_fails_the_answer_at_once(
    world: World,
    held: threading.Event,
    checks: WholeChecks,
    proved: list[int],
    monkeypatch: pytest.MonkeyPatch,
    change: Any,
) -> None:
    """The saved check was made (and its blocks found sound) before the change."""
    _step(monkeypatch, 2)
    stamps = _stamps(world)
    latest = len(_before_most(stamps)) - 1
    rows = full_of(world, page=Page())["events"]
    heartbeats = [i for i, r in enumerate(rows) if r["data"]["kind"] == "heartbeat"]

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from([i for i in heartbeats if i <= latest]), st.data())
    def fails(changed: int, data: st.DataObject) -> None:
        cache = _saved(world)
        assert cache.saved(SUBJECT).sound  # type: ignore[union-attr]
        instant = stamps[data.draw(st.integers(changed, latest))]
        row = _heartbeat(world, changed)
        change(world, row)
        try:
            page = Page(limit=data.draw(st.integers(1, 40)))
            cold = paged(world, cache, checks, as_of=instant, page=page)
            assert cold["integrity"]["verified"] is False
            if change is not _leaf:  # the full path's rows (a leaf is not in them)
                full = full_of(world, as_of=instant, page=page)
                assert _unchecked(cold)["events"] == _unchecked(full)["events"]
        finally:
            change(world, row, back=True)

    fails()
    assert max(proved) > 0, "no block was proved: the test proves nothing"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_event_the_index_places_elsewhere_than_its_row_fails_the_answer(
    world: World,
    held: threading.Event,
    checks: WholeChecks,
    proved: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Moved: the block's rows and leaves are as checked, the index's position is not (a
    digest of the rows and leaves cannot say so; the checks one by one do)."""
    _step(monkeypatch, 2)
    stamps = _stamps(world)
    latest = len(_before_most(stamps)) - 1
    cache = _saved(world)
    entries = world.views.index(SUBJECT)
    # One place earlier, still after the event before it: the record's order is unchanged.
    elsewhere = entries[1].position - 1
    assert entries[0].position < elsewhere
    moved = [entries[0], entries[1]._replace(position=elsewhere), *entries[2:]]
    monkeypatch.setattr(world.views, "index", lambda subject: moved)
    cold = paged(world, cache, checks, as_of=stamps[latest], page=Page(limit=5))
    assert cold["integrity"]["checking"] is True
    assert cold["integrity"]["verified"] is False
    monkeypatch.setattr(world.views, "index", lambda subject: entries)
    again = paged(world, cache, checks, as_of=stamps[latest], page=Page(limit=5))
    assert again["integrity"]["verified"] is None
    assert proved[-1] > 0, "no block was proved: the test proves nothing"


def test_a_saved_state_read_back_from_the_database_proves_no_block(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever could alter an event there could write its digest to fit."""
    monkeypatch.setattr(sound_blocks, "BLOCK", 2)
    _step(monkeypatch, 2)
    entries = world.views.index(SUBJECT)
    checked = instant_page.check(
        world.app, world.views, SUBJECT, entries, MerkleLog(world.app.recorder), 0.0
    )[0]
    assert checked.sound
    body = saved_states.encode(SUBJECT, checked)
    assert body is not None
    back = saved_states.decode(SUBJECT, body)
    assert back is not None and back.sound == {}
