"""GET /api/v1/health: "ok" only when all is well, "degraded" (503) with reasons a person
can act on, and an answer within a second even when the store hangs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from projections.store import DocWrite
from projections.timers import timer_doc
from service.bootstrap import create_app
from service.config import Settings
from service.container import Container
from tests.harness import eventually, service_in_process

Api = tuple[TestClient[Any, Any], Container]


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with service_in_process(Settings(database_url=sqlite_url), with_mqtt=False) as c:
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()  # service_in_process runs the background already
        await eventually(
            lambda: (
                all(state.beats for state in c.supervisor.loops.values() if state.stale_after)
                or None
            ),
            timeout=15,
            what="every loop's first beat",
        )
        yield await aiohttp_client(app), c


async def health(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/v1/health")
    return response.status, await response.json()


async def test_all_well_is_ok_and_shows_every_loop_the_store_and_the_notifications(
    api: Api,
) -> None:
    client, _ = api
    status, body = await health(client)
    assert (status, body["status"], body["reasons"]) == (200, "ok", [])
    assert "what_to_do" not in body
    checks = body["checks"]
    assert checks["event_store"]["ok"] is True and checks["event_store"]["head"] > 0
    assert checks["event_store"]["latency_s"] >= 0
    assert checks["projections"]["lag"] >= 0
    assert set(checks["loops"]) == {
        "scheduler",
        "live-views",
        "notification-sweep",
        "arc-supervision",
        "merkle-log",
        "lease-outbox",
        "lease-timers",
    }
    for name in ("scheduler", "live-views"):
        loop = checks["loops"][name]
        assert loop["running"] and loop["ok"] and loop["restarts"] == 0
        assert loop["last_tick"] is not None and loop["last_tick_age_s"] < 10
    assert {"sent", "failed", "requested", "stuck", "stuck_in_flight"} <= set(
        checks["notifications"]
    )
    assert "backlog" in checks["gateway"]
    assert checks["gateway"]["reading_paused"] is False  # nothing waiting: reading on
    # One process: it holds the outbox and the timers, and says so.
    leases = checks["leases"]
    for name in ("outbox", "timers"):
        assert leases[name]["held_here"]["held"] is True
        assert leases[name]["holder"] == leases["this_process"]


async def test_health_answers_within_a_second_while_the_store_hangs_and_the_workers_are_busy(
    api: Api,
) -> None:
    client, c = api
    release = threading.Event()
    real_head = c.projector.head

    def hanging_head() -> int:
        release.wait(30)
        return real_head()

    c.projector.head = hanging_head  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    # Every thread of the shared default executor blocked, as store calls block in an outage.
    busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(16)]
    try:
        started = time.monotonic()
        status, body = await health(client)
        took = time.monotonic() - started
        assert took < 1.0, f"health took {took:.2f} s"
        assert status == 503 and body["status"] == "degraded"
        [reason] = [r for r in body["reasons"] if r.startswith("store:")]
        assert reason.startswith("store: unreachable (no answer within")
        assert body["checks"]["event_store"]["reachable"] is False
    finally:
        release.set()
        c.projector.head = real_head  # type: ignore[method-assign]
        await asyncio.gather(*busy)
    await until_ok(client)  # the probe thread is free again once the store answers


async def until_ok(client: TestClient[Any, Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (status := (await health(client))[0]) != 200:
        assert time.monotonic() < deadline, f"health still {status}"
        await asyncio.sleep(0.1)


async def test_a_notification_requested_long_ago_and_never_sent_is_named(api: Api) -> None:
    client, c = api
    requested_at = (c.clock.now() - timedelta(minutes=3)).isoformat()
    doc = {
        "id": "n-nobody-sends",
        "alert_id": "a-1",
        "school": "lancaster",
        "state": "requested",
        "channel": "pager",  # no sender for it here: it can only wait
        "to": "+441702000010",
        "body": "SOS",
        "requested_at": requested_at,
    }
    await asyncio.to_thread(
        c.views.commit,
        "health-test",
        expected=0,
        position=1,
        docs=[DocWrite("notification", doc["id"], "lancaster", "requested", doc)],
        index=[],
    )
    status, body = await health(client)
    assert status == 503
    assert "notifications: 1 requested more than 60 s ago and not sent" in body["reasons"]
    assert body["checks"]["notifications"]["stuck"] == 1


async def test_a_disconnected_broker_session_is_named(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, c = api
    sessions = SimpleNamespace(
        main=SimpleNamespace(connected=True), alarm=SimpleNamespace(connected=False)
    )
    monkeypatch.setattr(c.health, "broker", sessions)
    status, body = await health(client)
    assert status == 503
    assert body["reasons"] == ["broker: the alarms session is not connected"]
    assert body["what_to_do"].startswith("docs/operations.md"), "a reader at 2 am is pointed on"
    assert body["checks"]["broker"]["sessions"] == {
        "devices": {"connected": True},
        "alarms": {"connected": False},
    }
    assert body["checks"]["broker"]["ok"] is False


async def test_a_device_message_neither_recorded_nor_rejected_is_named(api: Api) -> None:
    client, c = api
    c.gateway.stats["rejections_unrecorded"] += 1  # as the gateway counts one it must hold
    status, body = await health(client)
    assert status == 503
    [reason] = [r for r in body["reasons"] if r.startswith("gateway:")]
    assert "could be neither recorded nor rejected" in reason and "(1 since start)" in reason
    assert body["checks"]["gateway"]["rejections_unrecorded"] == 1


async def test_a_timer_whose_action_fails_is_named_until_it_fires(api: Api) -> None:
    client, c = api
    broken = {"yes": True}

    def action(timer: dict[str, Any], now: Any) -> None:
        if broken["yes"]:
            raise RuntimeError("no route to the tier's contacts")

    c.scheduler.register("test_step", action)
    timer = timer_doc("t-broken", action="test_step", due_at=c.clock.now(), school="lancaster")
    await asyncio.to_thread(
        c.views.commit,
        "health-test",
        expected=0,
        position=1,
        docs=[DocWrite("timer", "t-broken", "lancaster", "pending", timer)],
        index=[],
    )
    c.scheduler.wake()
    await eventually(lambda: "t-broken" in c.scheduler.failing, what="the failure")
    status, body = await health(client)
    assert status == 503
    [reason] = [r for r in body["reasons"] if r.startswith("timers:")]
    assert reason.startswith("timers: test_step t-broken failing for")
    assert reason.endswith("(RuntimeError: no route to the tier's contacts)")

    broken["yes"] = False  # fired at its next try (the scheduler waits 5 s before one)
    await eventually(lambda: not c.scheduler.failing, timeout=15, what="the timer fired")
