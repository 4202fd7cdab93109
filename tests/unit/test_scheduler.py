"""Timers live in the views and fire from the injected clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from projections.store import DocWrite, SQLiteViewStore
from service.clock import FakeClock
from service.domain.errors import DomainError
from service.workers.scheduler import Scheduler, timer_doc


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
