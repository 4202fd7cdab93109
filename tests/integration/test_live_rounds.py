"""The live views under load: rounds gathered, the cycle collector paused while one is applied.

Neither changes what the views hold (rebuild == catch-up == live is
tests/invariants/test_rebuild_equals_catch_up.py and test_committed_handoff.py); these check
that the cheaper way is the one taken, and that nothing is left switched off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from device_gateway.messages import DeviceReading, parse_device_message
from projections.projector import LIVE_BATCH, Projector
from service.clock import FakeClock
from service.workers.live import GATHER_FROM, LiveViews
from tests.devices import payload, topic
from tests.worlds import World, a_trust_with_lone_visitors

WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = a_trust_with_lone_visitors(f"sqlite:///{tmp_path / 'store.sqlite3'}", FakeClock(WHEN))
    yield world
    world.close()


def _heartbeats(count: int, start: int = 0) -> list[DeviceReading]:
    readings = []
    for n in range(start, start + count):
        reading = parse_device_message(topic("sos-0001", "heartbeat"), payload(id=f"h{n}"))
        assert isinstance(reading, DeviceReading)
        readings.append(reading)
    return readings


def _live(world: World) -> LiveViews:
    live = LiveViews(world.projector)
    world.intake.on_committed.insert(0, live.hand_over)
    world.projector.catch_up()
    return live


def test_a_round_that_applied_many_events_but_not_a_whole_batch_gathers_before_the_next(
    world: World,
) -> None:
    live = _live(world)
    world.intake.record(_heartbeats(GATHER_FROM))
    live.follow(1)
    assert live.last_applied == GATHER_FROM
    assert live._gathering()


def test_a_quiet_round_follows_again_at_once(world: World) -> None:
    """The live feed waits for a gathering only under load."""
    live = _live(world)
    world.intake.record(_heartbeats(3))
    live.follow(1)
    assert live.last_applied == 3
    assert not live._gathering()


def test_a_round_that_filled_its_batch_is_behind_and_follows_again_at_once(world: World) -> None:
    projector = Projector(world.app.recorder, world.app.mapper, world.views, batch_size=GATHER_FROM)
    projector.catch_up()
    live = LiveViews(projector)
    world.intake.record(_heartbeats(GATHER_FROM * 2))
    live.follow(1)  # read from the store: nothing was handed over
    assert live.last_applied == GATHER_FROM
    assert not live._gathering()


def test_live_batches_are_bigger_than_a_flood_round_and_gathering_can_be_turned_off(
    world: World,
) -> None:
    assert world.projector.batch_size == LIVE_BATCH >= 10 * GATHER_FROM
    live = LiveViews(world.projector, gather=0)
    world.intake.on_committed.insert(0, live.hand_over)
    world.intake.record(_heartbeats(GATHER_FROM))
    live.follow(1)
    assert not live._gathering()


@pytest.mark.parametrize("handed", [True, False], ids=["handed", "read back"])
def test_a_batch_is_applied_with_the_cycle_collector_paused_and_it_is_on_again_after(
    world: World, monkeypatch: pytest.MonkeyPatch, handed: bool
) -> None:
    projector = world.projector
    live = _live(world) if handed else LiveViews(projector)
    seen: list[bool] = []
    project_events = projector._project_events

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return project_events(*args, **kwargs)

    monkeypatch.setattr(projector, "_project_events", watched)
    world.intake.record(_heartbeats(5))
    assert gc.isenabled()
    live.follow(1)
    assert seen == [False]
    assert gc.isenabled()
    assert live.handed_applied == (5 if handed else 0)
