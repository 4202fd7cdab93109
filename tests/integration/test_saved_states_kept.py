"""Saved states kept in the database (`lw_saved_states`, service/adapters/saved_states.py):
the first page as of an instant in a process that has read nothing yet starts from the
state a previous process saved, and is still the full path's answer apart from the
verdict, whatever that state is: the record's last check, an older one (the record has
grown since), one whose events were altered or altered and sealed again since, or a row
written without the service's key. An altered event fails the answer at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.adapters.merkle_log import MerkleLog
from service.adapters.saved_states import SavedStateRows
from service.records import pages, saved_states
from service.records.record_cache import RecordCache
from service.records.record_shape import Page
from service.records.saved_states import KeptInStore
from service.records.whole_checks import WholeChecks
from tests.integration.test_first_page_checking import checks as checks  # the fixture
from tests.integration.test_first_page_checking import full_of, paged
from tests.integration.test_instant_checking import _altered, _heartbeat, _stamps, _unchecked
from tests.integration.test_instant_checking import held as held  # the fixture
from tests.integration.test_instant_checking import small as small  # the fixture
from tests.integration.test_instant_saved_states import _before_most, _resealed, _step
from tests.integration.test_instant_saved_states import kept as kept  # the fixture
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

SUBJECT = "device:sos-0001"


@pytest.fixture
def rows(database_url: str) -> SavedStateRows:
    return SavedStateRows(database_url, "the service's secret")


def _new_process(rows: SavedStateRows) -> RecordCache:
    """A cache with nothing in memory, reading saved states from the table."""
    cache = RecordCache()
    cache.keeper = KeptInStore(rows, at_least=1)
    return cache


def _save_check(world: World, rows: SavedStateRows, of_first: int | None = None) -> None:
    """What a previous process's background whole check left in the table; `of_first`:
    one made when the record held only its first events (a stale state now)."""
    entries = world.views.index(SUBJECT)
    if of_first is not None:
        entries = entries[:of_first]
    merkle = MerkleLog(world.app.recorder)
    checked = pages.check_whole(world.app, world.views, SUBJECT, entries, merkle, 0.0)
    KeptInStore(rows, at_least=1).save(SUBJECT, checked)
    assert rows.load(SUBJECT) is not None


def _forged(rows: SavedStateRows) -> None:
    """The row rewritten by someone without the key: every saved state says something the
    events do not (the MAC kept as it was)."""
    body = rows.load(SUBJECT)
    assert body is not None
    found = msgspec.msgpack.decode(body)
    for _, docs in found[7]:  # the checkpoints (service/records/saved_states.py `_Saved`)
        for _, _, doc in docs:
            doc["forged"] = True
    rows._run(  # what someone with the database's access would do
        "UPDATE lw_saved_states SET body = ? WHERE subject = ?",
        (msgspec.msgpack.encode(found), SUBJECT),
    )
    assert rows.load(SUBJECT) is None


def test_a_state_saved_by_any_earlier_process_gives_the_full_paths_answer(
    world: World,
    rows: SavedStateRows,
    held: threading.Event,
    checks: WholeChecks,
    kept: list[int],
    small: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _step(monkeypatch, 2)
    stamps = _stamps(world)
    instants = _before_most(stamps)
    count = len(world.views.index(SUBJECT))
    full_rows = full_of(world, page=Page())["events"]
    heartbeats = [i for i, r in enumerate(full_rows) if r["data"]["kind"] == "heartbeat"]

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def same(data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(["last", "stale", "altered", "resealed", "forged"]))
        _save_check(world, rows, data.draw(st.integers(4, count)) if which == "stale" else None)
        if which == "forged":
            _forged(rows)
        row: dict[str, Any] | None = None
        if which in ("altered", "resealed"):
            # Altered after the state was saved, at or before the instant.
            altered = data.draw(st.sampled_from([i for i in heartbeats if i < len(instants)]))
            instant = instants[data.draw(st.integers(altered, len(instants) - 1))]
            row = _heartbeat(world, altered)
            (_resealed if which == "resealed" else _altered)(world, row)
        else:
            instant = data.draw(st.sampled_from(instants))
        try:
            page = Page(
                after=data.draw(st.integers(0, 200)),
                limit=data.draw(st.integers(1, len(stamps) + 2)),
            )
            cold = paged(world, _new_process(rows), checks, as_of=instant, page=page)
            full = full_of(world, as_of=instant, page=page)
            assert _unchecked(cold) == _unchecked(full)
            assert cold["integrity"]["checking"] is True
            if row is None:
                assert cold["integrity"]["verified"] is None  # never "verified" unchecked
            else:
                assert cold["integrity"]["verified"] is False
            if which == "forged":
                assert kept[-1] == -1
        finally:
            if row is not None:
                (_resealed if which == "resealed" else _altered)(world, row, back=True)

    same()
    assert max(kept) >= 0, "no answer was made from a state saved in the table"


def test_the_background_check_saves_its_states_for_the_next_process(
    world: World,
    rows: SavedStateRows,
    held: threading.Event,
    checks: WholeChecks,
    kept: list[int],
    small: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's whole check (handed over by a cold page) writes the table; a process
    started afterwards answers its first page as of an instant from that state."""
    _step(monkeypatch, 2)
    instant = _before_most(_stamps(world))[-1]
    assert rows.load(SUBJECT) is None
    paged(world, _new_process(rows), checks, as_of=instant, page=Page(limit=5))
    assert kept == [-1]  # nothing saved yet
    held.set()
    checks.wait(SUBJECT)
    assert rows.load(SUBJECT) is not None
    cold = paged(world, _new_process(rows), checks, as_of=instant, page=Page(limit=5))
    assert kept[-1] >= 0
    assert _unchecked(cold) == _unchecked(full_of(world, as_of=instant, page=Page(limit=5)))


def test_the_service_keeps_saved_states_only_with_a_key(database_url: str) -> None:
    """Rows are authenticated with the service's secret (signing or cipher key): without
    one they are not kept at all, rather than kept unauthenticated."""
    from service.adapters.saved_states import open_saved_states

    assert open_saved_states(database_url, None) is None
    assert open_saved_states(database_url, "a key") is not None


def test_a_check_handed_over_waits_for_the_page_unless_someone_needs_it() -> None:
    """The worker leaves the interpreter to the page being sent (`AFTER_SECONDS`); whoever
    waits for the check (a page or export that needs the verdict) starts it at once."""
    made = WholeChecks(after=600.0)
    ran = threading.Event()
    try:
        assert made.start(SUBJECT, ran.set)
        assert not ran.wait(0.2)  # not started while the page is being sent
        asking = threading.Thread(target=made.wait, args=(SUBJECT,), daemon=True)
        asking.start()
        assert ran.wait(10), "asked for, the check still waited out its delay"
        asking.join(10)
        assert not made.running(SUBJECT)
    finally:
        made.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_service_wires_the_table_when_it_has_a_key(database_url: str) -> None:
    from service.adapters.signing import SigningKey
    from service.bootstrap import build
    from service.config import Settings
    from service.records.record_cache import cache_of

    plain = Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1")
    keyed = Settings(
        database_url=database_url,
        mqtt_url="mqtt://127.0.0.1:1",
        signing_key=SigningKey.generate().setting(),
    )
    for asked, kept_in_store in ((plain, False), (keyed, True)):
        container = build(asked)
        try:
            assert isinstance(cache_of(container.app).keeper, KeptInStore) is kept_in_store
        finally:
            container.close()


def test_a_state_that_would_not_read_back_as_it_is_is_not_saved(
    world: World, rows: SavedStateRows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document holding a tuple (msgpack gives a list back, equal but sent differently)
    or a time in another zone (given back in UTC) is not saved."""
    _step(monkeypatch, 2)
    merkle = MerkleLog(world.app.recorder)
    entries = world.views.index(SUBJECT)
    checked = pages.check_whole(world.app, world.views, SUBJECT, entries, merkle, 0.0)
    assert saved_states.encode(SUBJECT, checked) is not None
    first = min(checked.checkpoints)
    for odd in ((1, 2), datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=1)))):
        docs = {key: doc | {"odd": odd} for key, doc in checked.checkpoints[first].items()}
        altered = replace(checked, checkpoints=checked.checkpoints | {first: docs})
        assert saved_states.encode(SUBJECT, altered) is None


def test_a_check_held_for_its_page_starts_when_released() -> None:
    """The HTTP handler holds the check its page handed over (`after`, far longer than
    `AFTER_SECONDS`) and releases it once the page is written: it starts then."""
    made = WholeChecks()
    ran = threading.Event()
    try:
        assert made.start(SUBJECT, ran.set, after=600.0)
        assert not ran.wait(0.3)  # held past AFTER_SECONDS: the page is not sent yet
        made.release(SUBJECT)
        assert ran.wait(10), "released, the check still waited out its hold"
        made.release("device:none-in-hand")  # nothing in hand: nothing to do
    finally:
        made.close()
