"""The cycle collector and a cold page (service/records/pages.py): the page is made with the
collector paused, and what the collector finds when it comes back on is paid for by the
request. So the page's own working objects (the record's index, the rows read) are gone
before it comes back on, and the record as the background check made it is aged by the
check's own worker, not left to the next request's first collection."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from projections.store import IndexEntry
from service.records import pages
from service.records.record_cache import RecordCache
from service.records.whole_checks import WholeChecks
from tests.integration.test_first_page_checking import checks as checks  # the fixture
from tests.integration.test_first_page_checking import paged
from tests.integration.test_instant_checking import _stamps
from tests.integration.test_instant_checking import held as held  # the fixture
from tests.integration.test_instant_checking import small as small  # the fixture
from tests.integration.test_record_pages import world as world  # the fixture
from tests.worlds import World

SUBJECT = "device:sos-0001"


def _young_entries() -> int:
    return sum(isinstance(o, IndexEntry) for o in gc.get_objects(0))


@pytest.mark.usefixtures("small")
def test_a_cold_pages_index_is_gone_before_the_collector_comes_back(
    world: World, held: threading.Event, checks: WholeChecks, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[int] = []

    @contextmanager
    def watched() -> Iterator[None]:
        """`collector_paused`, counting the index entries the collector would be handed."""
        was_on = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            handed.append(_young_entries())
            if was_on:
                gc.enable()

    monkeypatch.setattr(pages, "collector_paused", watched)
    middle = _stamps(world)[len(_stamps(world)) // 2]
    gc.collect()
    answer = paged(world, RecordCache(), checks, as_of=middle)
    assert "checking" in answer["integrity"]  # the cold page, its whole check held
    assert handed[0] == 0


def test_the_whole_check_ages_what_it_keeps_in_its_own_worker(
    world: World, held: threading.Event, checks: WholeChecks
) -> None:
    seen: list[tuple[str, int]] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append((threading.current_thread().name, info["generation"]))

    cache = RecordCache()
    answer = paged(world, cache, checks)
    assert "checking" in answer["integrity"]
    gc.callbacks.append(note)
    try:
        held.set()
        checks.wait(SUBJECT)
    finally:
        gc.callbacks.remove(note)
    assert cache.get(SUBJECT, world.views.index(SUBJECT)) is not None
    assert any(name.startswith("record-check") and gen >= 1 for name, gen in seen), seen
