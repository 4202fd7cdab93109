"""The cycle collector while the service runs: what start-up built is frozen out of its
sight and the youngest generation is collected less often (service/lifecycle.py,
`settle_collector`), and both are put back when the service stops, so a process that runs
the service several times (the tests) does not keep what earlier runs froze."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.config import Settings
from service.lifecycle import GC_YOUNG_THRESHOLD, settle_collector, unsettle_collector
from tests.harness import service_in_process


@pytest.fixture
def collector_restored() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.unfreeze()
    try:
        yield before
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_settling_freezes_what_exists_and_collects_the_young_less_often(
    collector_restored: tuple[int, int, int],
) -> None:
    built_at_start = [{"a": n} for n in range(100)]  # containers the collector tracks
    settle_collector()
    assert gc.get_freeze_count() >= len(built_at_start)
    young, middle, oldest = gc.get_threshold()
    assert young == GC_YOUNG_THRESHOLD > collector_restored[0]
    assert (middle, oldest) == collector_restored[1:]
    unsettle_collector()
    assert gc.get_threshold() == collector_restored
    assert gc.get_freeze_count() == 0


def test_two_services_in_one_process_leave_the_collector_as_they_found_it(
    collector_restored: tuple[int, int, int],
) -> None:
    settle_collector()  # the first service starts
    settle_collector()  # a second one, while the first runs
    unsettle_collector()  # the first stops: the second still runs settled
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    unsettle_collector()
    assert gc.get_threshold() == collector_restored
    assert gc.get_freeze_count() == 0


async def test_the_running_service_settles_the_collector_and_puts_it_back(
    sqlite_url: str, collector_restored: tuple[int, int, int]
) -> None:
    async with service_in_process(Settings(database_url=sqlite_url), with_mqtt=False):
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == collector_restored
    assert gc.get_freeze_count() == 0


def test_a_flood_s_messages_in_flight_set_off_no_young_collection(
    collector_restored: tuple[int, int, int],
) -> None:
    """Under a heartbeat flood ~50,000-75,000 containers are alive in flight (paho to the
    views) and a views batch adds as many while the collector waits: each collection of
    the youngest generation scanned all of them (docs/performance.md, gc9)."""
    collections: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    settle_collector()
    gc.collect(0)  # the young generation's count starts from nothing
    gc.callbacks.append(counted)
    try:
        in_flight = [{"heartbeat": n} for n in range(75_000)]
    finally:
        gc.callbacks.remove(counted)
        unsettle_collector()
    assert len(in_flight) == 75_000
    assert collections == []
