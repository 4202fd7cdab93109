"""The supervisor: a loop that raises is logged with its traceback and started again with
backoff; beats are what health reports; shutdown cancels and awaits every loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import structlog
from structlog.testing import capture_logs

from device_gateway.gateway import Gateway
from device_gateway.inbound import InboundMessage
from device_gateway.links import Links
from projections.store import DocWrite, SQLiteViewStore
from projections.timers import timer_doc
from service.application.device_intake import Intaken, Outcome
from service.clock import FakeClock
from service.lifecycle import QUICK_RESTART_DELAY, SCHEDULER_INTERVAL
from service.workers.scheduler import Scheduler
from service.workers.supervisor import LoopState, Supervisor
from tests.harness import eventually


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs(processors=[structlog.processors.format_exc_info]) as entries:
        yield entries


class Ticks:
    """A fake monotonic clock for the supervisor's bookkeeping (not for asyncio's sleeps)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_loop_that_raises_is_logged_with_its_traceback_and_started_again(
    logs: list[dict[str, Any]],
) -> None:
    runs: list[int] = []

    async def flaky(state: LoopState) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"store down (run {len(runs)})")
        state.beat()
        await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.01, max_delay=0.05)
    state = supervisor.start("flaky", flaky)
    await eventually(lambda: state.beats == 1, what="the third run to beat")
    await supervisor.stop()

    assert len(runs) == 3 and state.restarts == 2
    failures = [e for e in logs if e["event"] == "loop_failed"]
    assert [f["error"] for f in failures] == [
        "RuntimeError: store down (run 1)",
        "RuntimeError: store down (run 2)",
    ]
    for failure in failures:
        assert failure["log_level"] == "error" and failure["loop"] == "flaky"
        assert "Traceback (most recent call last)" in failure["exception"]
        assert "in flaky" in failure["exception"]


async def test_restarts_back_off_doubling_up_to_the_cap() -> None:
    waits: list[float] = []

    async def recording_sleep(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(0)

    async def failing(_: LoopState) -> None:
        raise ConnectionError("refused")

    supervisor = Supervisor(first_delay=0.5, max_delay=2.0, sleep=recording_sleep)
    state = supervisor.start("failing", failing)
    await eventually(lambda: state.restarts >= 5, what="five restarts")
    await supervisor.stop()
    assert waits[:5] == [0.5, 1.0, 2.0, 2.0, 2.0]


async def test_after_a_healthy_stretch_the_backoff_starts_again_from_the_first_delay() -> None:
    ticks = Ticks()
    waits: list[float] = []
    runs = 0

    async def recording_sleep(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(0)

    async def sometimes_long(_: LoopState) -> None:
        nonlocal runs
        runs += 1
        if runs == 4:
            ticks.now += 60  # this run stayed up a minute before failing
        raise ConnectionError("refused")

    supervisor = Supervisor(
        first_delay=0.5, max_delay=2.0, healthy_after=30, monotonic=ticks, sleep=recording_sleep
    )
    state = supervisor.start("sometimes", sometimes_long)
    await eventually(lambda: state.restarts >= 5, what="five restarts")
    await supervisor.stop()
    assert waits[:5] == [0.5, 1.0, 2.0, 0.5, 1.0]


async def test_the_same_failure_again_is_one_line_not_another_traceback(
    logs: list[dict[str, Any]],
) -> None:
    async def down(_: LoopState) -> None:
        raise ConnectionError("connection refused")

    supervisor = Supervisor(first_delay=0.001, max_delay=0.001)
    state = supervisor.start("down", down)
    await eventually(lambda: state.restarts >= 3, what="three restarts")
    await supervisor.stop()
    events = [e["event"] for e in logs if e.get("loop") == "down" and "fail" in e["event"]]
    assert events[0] == "loop_failed" and set(events[1:]) == {"loop_still_failing"}
    assert sum("exception" in e for e in logs) == 1


async def test_a_loop_that_returns_is_started_again_too(logs: list[dict[str, Any]]) -> None:
    async def returns(_: LoopState) -> None:
        return

    supervisor = Supervisor(first_delay=0.001, max_delay=0.001)
    state = supervisor.start("returns", returns)
    await eventually(lambda: state.restarts >= 1, what="a restart")
    await supervisor.stop()
    assert state.last_error == "the loop returned"
    assert any(e["event"] == "loop_failed" and e["loop"] == "returns" for e in logs)


async def test_beats_are_reported_with_their_age_and_a_stale_loop_is_a_problem() -> None:
    ticks = Ticks()
    beat = asyncio.Event()

    async def beating(state: LoopState) -> None:
        while True:
            await beat.wait()
            beat.clear()
            state.beat()

    supervisor = Supervisor(monotonic=ticks)
    state = supervisor.start("beating", beating, stale_after=10)
    await asyncio.sleep(0)
    assert state.report()["last_tick"] is None and supervisor.problems() == []

    beat.set()
    await eventually(lambda: state.beats == 1, what="a beat")
    ticks.now += 4
    report = supervisor.report()["beating"]
    assert report["ok"] is True and report["last_tick_age_s"] == 4.0
    assert report["last_tick"] is not None and report["restarts"] == 0

    ticks.now += 7
    assert supervisor.problems() == ["loop beating: no successful tick for 11.0 s"]
    assert supervisor.report()["beating"]["ok"] is False
    await supervisor.stop()


async def test_a_loop_waiting_to_restart_is_reported_as_not_running() -> None:
    async def broken(_: LoopState) -> None:
        raise ValueError("bad row")

    supervisor = Supervisor(first_delay=60)
    state = supervisor.start("broken", broken, stale_after=10)
    await eventually(lambda: state.last_error is not None, what="the failure")
    assert supervisor.problems() == [
        "loop broken is not running (waiting to restart after: ValueError: bad row)"
    ]
    await supervisor.stop()  # cancels the wait before the restart


async def test_stop_cancels_and_awaits_every_loop() -> None:
    cleaned: list[str] = []

    async def long_running(state: LoopState) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(state.name)

    supervisor = Supervisor()
    a = supervisor.start("a", long_running)
    b = supervisor.start("b", long_running)
    await asyncio.sleep(0)
    await supervisor.stop()
    assert sorted(cleaned) == ["a", "b"]
    assert not a.running and not b.running
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("supervised-")] == []


def _views_with(tmp_path: Path, clock: FakeClock, *actions: str) -> SQLiteViewStore:
    store = SQLiteViewStore(tmp_path / "views.sqlite3")
    timers = [
        timer_doc(
            f"t{i}", action=action, due_at=clock.now() - timedelta(seconds=10 - i), school="s"
        )
        for i, action in enumerate(actions)
    ]
    store.commit(
        "test",
        expected=0,
        position=1,
        docs=[DocWrite("timer", t["id"], t["school"], t["state"], t) for t in timers],
        index=[],
    )
    return store


async def test_a_timer_action_that_raises_does_not_stop_later_timers(
    tmp_path: Path, logs: list[dict[str, Any]]
) -> None:
    clock = FakeClock()
    fired: list[str] = []

    def breaks(timer: dict[str, Any], now: Any) -> None:
        raise RuntimeError("the tier's contact has no phone")

    views = _views_with(tmp_path, clock, "breaks", "ping", "ping")
    scheduler = Scheduler(
        views, clock, {"breaks": breaks, "ping": lambda timer, now: fired.append(timer["id"])}
    )
    supervisor = Supervisor()
    state = supervisor.start(
        "scheduler", lambda s: scheduler.run(interval=0.01, state=s), stale_after=10
    )
    await eventually(lambda: fired == ["t1", "t2"] and state.beats >= 2, what="later timers")
    await supervisor.stop()
    views.close()
    assert state.restarts == 0
    assert set(scheduler.failing) == {"t0"}, "health names the timer that did not fire"
    assert scheduler.failing["t0"].error == "RuntimeError: the tier's contact has no phone"
    [failed] = [e for e in logs if e["event"] == "timer_failed"]
    assert failed["timer"] == "t0" and "the tier's contact has no phone" in failed["exception"]


async def test_a_scheduler_whose_store_fails_is_restarted_and_fires_when_it_is_back(
    tmp_path: Path, logs: list[dict[str, Any]]
) -> None:
    clock = FakeClock()
    fired: list[str] = []
    views = _views_with(tmp_path, clock, "ping")
    real_find = views.find
    outage = {"down": True}

    def find(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if outage["down"]:
            raise ConnectionError("the database is restarting")
        return real_find(*args, **kwargs)

    views.find = find  # type: ignore[method-assign]
    scheduler = Scheduler(views, clock, {"ping": lambda timer, now: fired.append(timer["id"])})
    supervisor = Supervisor(first_delay=0.01, max_delay=0.02)
    state = supervisor.start("scheduler", lambda s: scheduler.run(interval=0.01, state=s))
    await eventually(lambda: state.restarts >= 2, what="restarts while the store is down")
    assert fired == [] and state.last_error == "ConnectionError: the database is restarting"
    outage["down"] = False
    await eventually(lambda: fired == ["t0"], what="the timer once the store is back")
    await supervisor.stop()
    views.close()
    assert state.report()["failing"] is False
    assert any(e["event"] == "loop_failed" and e["loop"] == "scheduler" for e in logs)


async def test_a_woken_scheduler_ticks_at_once_not_at_its_next_round(tmp_path: Path) -> None:
    clock = FakeClock()
    fired: list[str] = []
    views = _views_with(tmp_path, clock)
    scheduler = Scheduler(views, clock, {"ping": lambda timer, now: fired.append(timer["id"])})
    task = asyncio.create_task(scheduler.run(interval=3600))
    await asyncio.sleep(0.05)  # the first tick (nothing due) is done; the next is an hour away
    due = timer_doc("now", action="ping", due_at=clock.now(), school="s")
    views.commit(
        "test",
        expected=1,
        position=2,
        docs=[DocWrite("timer", "now", "s", "pending", due)],
        index=[],
    )
    scheduler.wake()
    await eventually(lambda: fired == ["now"], what="the woken tick")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    views.close()


class _Intake:
    """Records every heartbeat; a fake intake, so no store is needed."""

    def __init__(self) -> None:
        self.recorded = 0

    def record(self, readings: list[Any]) -> list[Intaken]:
        self.recorded += len(readings)
        return [Intaken(Outcome.RECORDED) for _ in readings]


class _Link:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        pass


async def test_a_gateway_whose_run_fails_is_started_again_and_takes_messages() -> None:
    intake, link = _Intake(), _Link()
    gateway = Gateway(cast(Any, None), intake=cast(Any, intake), max_batch=1, sessions=Links(link))
    serve, broken = gateway._serve, [True]

    async def serve_once_broken(name: str, queue: Any) -> None:
        if broken and name == "bulk":
            broken.clear()
            raise RuntimeError("lane bulk broke")
        await serve(name, queue)

    gateway._serve = serve_once_broken  # type: ignore[method-assign]
    supervisor = Supervisor(first_delay=0.05)
    state = supervisor.start("gateway", lambda _: gateway.run())
    await eventually(lambda: state.restarts == 1 and gateway.backlog, what="a restart")
    gateway.admit(InboundMessage("lw/v1/dev/sos-0001/heartbeat", b'{"id": "hb-1"}', 7, 1, False))
    await eventually(lambda: link.acked == [7], what="the message recorded and acknowledged")
    await supervisor.stop()
    assert intake.recorded == 1
    assert state.last_error == "ExceptionGroup: RuntimeError: lane bulk broke"


async def test_a_restarted_gateway_keeps_the_messages_waiting_in_its_lanes() -> None:
    """What waits in a lane is unacknowledged; the broker would give it back only on a
    reconnect, so a restarted run must serve it, not start from empty lanes."""
    intake, link = _Intake(), _Link()
    gateway = Gateway(cast(Any, None), intake=cast(Any, intake), max_batch=1, sessions=Links(link))
    serve, held = gateway._serve, asyncio.Event()

    async def bulk_breaks_while_messages_wait(name: str, queue: Any) -> None:
        if name == "bulk" and not held.is_set():
            await held.wait()
            raise RuntimeError("lane bulk broke")
        await serve(name, queue)

    gateway._serve = bulk_breaks_while_messages_wait  # type: ignore[method-assign]
    supervisor = Supervisor(first_delay=0.05)
    state = supervisor.start("gateway", lambda _: gateway.run())
    await eventually(lambda: bool(gateway.backlog), what="the lanes")
    for mid in (1, 2, 3):
        gateway.admit(
            InboundMessage("lw/v1/dev/sos-0001/heartbeat", b'{"id": "hb-%d"}' % mid, mid, 1, False)
        )
    assert gateway.backlog["bulk"] == 3
    held.set()
    await eventually(lambda: link.acked == [1, 2, 3], what="the waiting messages recorded")
    await supervisor.stop()
    assert state.restarts == 1
    assert intake.recorded == 3


async def test_a_loop_restarting_for_long_says_how_long_since_its_last_good_tick() -> None:
    ticks = Ticks()

    async def broken(_: LoopState) -> None:
        raise ValueError("bad row")

    supervisor = Supervisor(first_delay=60, monotonic=ticks)
    state = supervisor.start("broken", broken, stale_after=10)
    await eventually(lambda: state.last_error is not None, what="the failure")
    ticks.now += 12
    assert supervisor.problems() == [
        "loop broken is not running (waiting to restart after: ValueError: bad row); "
        "no successful tick for 12.0 s"
    ]
    await supervisor.stop()


async def test_a_loop_given_its_own_delay_restarts_at_that_pace_not_the_doubling() -> None:
    """The scheduler (and the live views) are wired with their own restart delay
    (service/wiring.py): the default
    doubling to 2 s let its first round after the store was back come up to 2 s late."""
    waits: dict[str, list[float]] = {"scheduler": [], "other": []}
    current: list[str] = []

    async def recording_sleep(delay: float) -> None:
        waits[current[-1]].append(delay)
        await asyncio.sleep(0)

    def failing(name: str) -> Any:
        async def loop(_: LoopState) -> None:
            current.append(name)
            raise ConnectionError("refused")

        return loop

    supervisor = Supervisor(first_delay=0.5, max_delay=2.0, sleep=recording_sleep)
    scheduler = supervisor.start(
        "scheduler",
        failing("scheduler"),
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    other = supervisor.start("other", failing("other"))
    await eventually(lambda: scheduler.restarts >= 5 and other.restarts >= 5, what="restarts")
    await supervisor.stop()
    assert waits["scheduler"][:5] == [QUICK_RESTART_DELAY] * 5
    assert QUICK_RESTART_DELAY < SCHEDULER_INTERVAL
    assert waits["other"][:5] == [0.5, 1.0, 2.0, 2.0, 2.0]


async def test_after_the_store_is_back_the_scheduler_fires_within_one_of_its_rounds(
    tmp_path: Path,
) -> None:
    """Issue 10: no step later than one scheduler interval after recovery. The store fails
    for several restarts (each wait recorded, none slept for real); once it is back, the
    wait before the round that fires the timer is shorter than the interval."""
    clock = FakeClock()
    fired: list[str] = []
    views = _views_with(tmp_path, clock, "ping")
    real_find = views.find
    outage = {"down": True}
    waits: list[float] = []

    async def recording_sleep(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(0)

    def find(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if outage["down"]:
            raise ConnectionError("the database is restarting")
        return real_find(*args, **kwargs)

    views.find = find  # type: ignore[method-assign]
    scheduler = Scheduler(views, clock, {"ping": lambda timer, now: fired.append(timer["id"])})
    supervisor = Supervisor(sleep=recording_sleep)  # the default doubling, to 2 s
    state = supervisor.start(
        "scheduler",
        lambda s: scheduler.run(interval=SCHEDULER_INTERVAL, state=s),
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    await eventually(lambda: state.restarts >= 6, what="restarts while the store is down")
    assert state.last_error == "ConnectionError: the database is restarting"
    outage["down"] = False
    back_at = len(waits)
    await eventually(lambda: fired == ["t0"], what="the timer once the store is back")
    await supervisor.stop()
    views.close()
    # At most the one restart wait that was under way when the store came back.
    assert all(w < SCHEDULER_INTERVAL for w in waits), waits
    assert len(waits) - back_at <= 1, waits
    assert state.report()["failing"] is False


async def test_a_loop_that_works_again_says_so_once_with_how_long_it_was_failing(
    logs: list[dict[str, Any]],
) -> None:
    """An outage's log showed each loop failing and restarting, then nothing: whoever read
    it could not tell which loops had come back. Now the first good round says so."""
    ticks = Ticks()
    runs: list[int] = []

    async def flaky(state: LoopState) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            ticks.now += 5.0
            raise OSError("connection refused\n\tIs the server running on that host?")
        state.beat()
        state.beat()
        await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.01, max_delay=0.05, monotonic=ticks)
    state = supervisor.start("scheduler", flaky)
    await eventually(lambda: state.beats == 2, what="the third run to beat")
    await supervisor.stop()

    recovered = [e for e in logs if e["event"] == "loop_recovered"]
    assert len(recovered) == 1, recovered
    assert recovered[0]["loop"] == "scheduler" and recovered[0]["failures"] == 2
    assert recovered[0]["failing_for_s"] == 5.0  # from the first failure to the good round
    # One line, for a health reason and a log field: psycopg's message spans three.
    assert state.last_error == "OSError: connection refused Is the server running on that host?"
