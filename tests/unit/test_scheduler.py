"""Timers live in the views and fire from the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from projections.store import DocWrite, SQLiteViewStore
from projections.timers import timer_doc
from service.clock import FakeClock, SystemClock
from service.domain.errors import DomainError
from service.workers.scheduler import Scheduler
from service.workers.supervisor import LoopState
from tests.harness import eventually


def store_with(tmp_path: Path, *timers: dict[str, Any]) -> SQLiteViewStore:
    store = SQLiteViewStore(tmp_path / "views.sqlite3")
    writes = [DocWrite("timer", t["id"], t["school"], t["state"], t) for t in timers]
    store.commit("test", expected=0, position=1, docs=writes, index=[])
    return store


def test_a_timer_fires_when_the_clock_reaches_it_and_not_before(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_with(
        tmp_path,
        timer_doc("t1", action="ping", due_at=clock.now() + timedelta(minutes=10), school="s"),
    )
    seen: list[tuple[str, Any]] = []
    scheduler = Scheduler(
        store, clock, {"ping": lambda timer, now: seen.append((timer["id"], now))}
    )
    assert scheduler.tick() == []
    clock.advance(timedelta(minutes=10))
    assert scheduler.tick() == ["t1"]
    assert seen == [("t1", clock.now())]


def test_a_fired_timer_is_not_fired_again_until_its_event_is_in_the_views(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_with(tmp_path, timer_doc("t1", action="ping", due_at=clock.now(), school="s"))
    calls: list[str] = []
    scheduler = Scheduler(store, clock, {"ping": lambda timer, now: calls.append(timer["id"])})
    scheduler.tick()
    scheduler.tick()
    assert calls == ["t1"]
    scheduler.forget_fired()
    scheduler.tick()
    assert calls == ["t1", "t1"]  # still pending in the views: actions must be idempotent


def test_done_and_cancelled_timers_never_fire(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_with(
        tmp_path,
        timer_doc("a", action="ping", due_at=clock.now(), school="s", state="done"),
        timer_doc("b", action="ping", due_at=clock.now(), school="s", state="cancelled"),
    )
    scheduler = Scheduler(store, clock, {"ping": lambda timer, now: None})
    assert scheduler.tick() == []


def test_a_refused_or_failing_action_does_not_stop_the_others(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_with(
        tmp_path,
        timer_doc("a", action="refuse", due_at=clock.now() - timedelta(seconds=2), school="s"),
        timer_doc("b", action="boom", due_at=clock.now() - timedelta(seconds=1), school="s"),
        timer_doc("c", action="ok", due_at=clock.now(), school="s"),
    )

    def refuse(timer: Any, now: Any) -> None:
        raise DomainError("already handled")

    def boom(timer: Any, now: Any) -> None:
        raise RuntimeError("bug")

    scheduler = Scheduler(store, clock, {"refuse": refuse, "boom": boom, "ok": lambda t, n: None})
    assert scheduler.tick() == ["c"]


async def test_a_timer_due_before_the_next_round_wakes_the_scheduler_at_its_time(
    tmp_path: Path,
) -> None:
    """Issue 10: no escalation step later than one scheduler interval. A round an hour
    away must not hold back a step due 0.3 s from now: the loop wakes for the timer."""
    clock = FakeClock()
    store = store_with(
        tmp_path,
        timer_doc("soon", action="ping", due_at=clock.now() + timedelta(seconds=0.3), school="s"),
    )
    fired: list[str] = []
    state = LoopState("scheduler", stale_after=None)
    scheduler = Scheduler(store, clock, {"ping": lambda timer, now: fired.append(timer["id"])})
    task = asyncio.create_task(scheduler.run(interval=3600, state=state))
    try:
        await eventually(lambda: state.beats >= 1, what="the first round (nothing due)")
        assert fired == [] and scheduler.next_due == clock.now() + timedelta(seconds=0.3)
        clock.advance(timedelta(seconds=0.3))
        await eventually(lambda: fired == ["soon"], what="the round woken for the timer")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()


async def test_on_the_real_clock_the_step_fires_on_the_round_it_woke_for(tmp_path: Path) -> None:
    """With a minute's interval, a timer due 0.3 s after the first round fires on the second
    round (the one that waited for it), long before the interval is over."""
    clock = SystemClock()
    store = store_with(
        tmp_path,
        timer_doc("soon", action="ping", due_at=clock.now() + timedelta(seconds=0.3), school="s"),
    )
    state = LoopState("scheduler", stale_after=None)
    fired_after_rounds: list[int] = []
    scheduler = Scheduler(
        store, clock, {"ping": lambda timer, now: fired_after_rounds.append(state.beats)}
    )
    task = asyncio.create_task(scheduler.run(interval=60.0, state=state))
    try:
        await eventually(lambda: fired_after_rounds, timeout=30, what="the timer, before 60 s")
        assert fired_after_rounds == [1], "fired on the round after the first, the woken one"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()


def test_the_wait_is_for_the_next_timer_bounded_by_the_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    store = store_with(
        tmp_path,
        timer_doc("due", action="ping", due_at=clock.now(), school="s"),
        timer_doc("later", action="ping", due_at=clock.now() + timedelta(seconds=0.5), school="s"),
        timer_doc("much-later", action="ping", due_at=clock.now() + timedelta(hours=1), school="s"),
    )
    scheduler = Scheduler(store, clock, {"ping": lambda timer, now: None})
    assert scheduler.tick() == ["due"]
    assert scheduler.next_due == clock.now() + timedelta(seconds=0.5)
    assert 0.5 <= scheduler.wait_before_next_round(interval=1.0) < 0.6
    assert scheduler.wait_before_next_round(interval=0.2) == 0.2
    clock.advance(timedelta(seconds=0.5))
    assert scheduler.tick() == ["later"]
    assert scheduler.wait_before_next_round(interval=1.0) == 1.0
