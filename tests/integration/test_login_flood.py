"""A login flood neither delays an alarm nor locks the real user out (issue 10: "A login flood
delays an SOS by 12 s"; "locking out by username alone lets anyone lock a receptionist out").

Every client connects to 127.0.0.1 only; a client "from another address" binds a different
loopback source address (127.0.0.2 ...), which Linux routes on the same interface.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from benchmarks.login_flood import flood
from service.application import sessions
from service.bootstrap import create_app
from service.config import Settings
from service.container import Container
from service.domain.people.sign_in_limits import ADDRESS_FAILURES, CHECKS_AT_ONCE, PAIR_FAILURES
from service.entrypoints.http.auth import SESSION_COOKIE
from service.entrypoints.http.sign_in import COUNTS
from service.workers.pools import BoundedPool
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.console_world import PASSWORD, an_sos, with_every_role
from tests.harness import Device, eventually, forget_session, service_in_process

FLOOD_CLIENTS = 30


async def sign_in(port: int, user: str, password: str, source: str) -> aiohttp.ClientResponse:
    """One sign-in from `source` (a loopback address) to the service on 127.0.0.1."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        response = await session.post(
            f"http://127.0.0.1:{port}/console/login",
            data={"username": user, "password": password, "next": "/console/"},
            allow_redirects=False,
        )
        await response.read()
        return response


@pytest.fixture
async def console_server(
    sqlite_url: str, aiohttp_server: Any
) -> AsyncIterator[tuple[int, Container]]:
    async with service_in_process(Settings(database_url=sqlite_url), with_mqtt=False) as c:
        with_every_role(c.app)
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        server: TestServer = await aiohttp_server(app, host="127.0.0.1")
        assert server.port is not None
        yield server.port, c


@pytest.mark.parametrize("addresses", [1, FLOOD_CLIENTS], ids=["from one address", "from 30"])
async def test_an_sos_is_recorded_and_answered_while_30_clients_flood_the_sign_in(
    addresses: int,
    postgres_url: str,
    mosquitto_url: str,
    topic_prefix: str,
    run_id: str,
    aiohttp_server: Any,
) -> None:
    settings = Settings(
        database_url=postgres_url,
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=f"lw-gw-{run_id}",
    )
    device_id = f"dev-{run_id}"
    try:
        async with service_in_process(settings) as c:
            app = create_app(c)
            app.cleanup_ctx.clear()
            server: TestServer = await aiohttp_server(app, host="127.0.0.1")
            assert server.port is not None
            device = await Device.connect(
                MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, "sos-0001", device_id
            )
            stop = asyncio.Event()
            answers: Counter[str] = Counter()
            flooding = asyncio.create_task(
                flood(
                    server.port,
                    clients=FLOOD_CLIENTS,
                    duration=90,
                    addresses=addresses,
                    max_requests=20_000,
                    stop=stop,
                    statuses=answers,
                )
            )
            try:
                await eventually(
                    lambda: answers.total() >= FLOOD_CLIENTS, timeout=30, what="the flood answered"
                )
                pressed = time.monotonic()
                await device.send("sos", {"id": f"flood-{run_id}"})
                received = await eventually(
                    lambda: [m for m in device.commands if m.get("type") == "alert_received"],
                    timeout=60,
                    what="alert_received while the sign-in is flooded",
                )
                took = time.monotonic() - pressed
                # The limits engage while the flood lasts: one address may have only two
                # passwords checked at once (429 for the rest); thirty fill the pool (503).
                counts = app[COUNTS]
                expected = "login_limited_by_checking" if addresses == 1 else "login_busy"
                await eventually(lambda: counts[expected], timeout=60, what=expected)
            finally:
                stop.set()
                report = await flooding
                device.close()
            print(
                f"\nalert_received {took * 1000:.0f} ms after the press, during a flood of "
                f"{FLOOD_CLIENTS} clients from {addresses} address(es): {report}; "
                f"pools {c.pools.stats()}"
            )
            alert = await asyncio.to_thread(c.app.alert, UUID(received[0]["alert_id"]))
            assert alert.kind == "sos"
            assert set(answers) <= {"401", "429", "503"}, answers
            # Every password check ran in the passwords pool, none on the default executor.
            assert c.pools.passwords.stats["accepted"] == answers["401"]
    finally:
        forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, f"lw-gw-{run_id}")


async def test_the_receptionist_signs_in_from_her_own_address_while_her_name_is_flooded(
    console_server: tuple[int, Container],
) -> None:
    port, _ = console_server
    stop = asyncio.Event()
    answers: Counter[str] = Counter()
    flooding = asyncio.create_task(
        flood(
            port,
            clients=FLOOD_CLIENTS,
            duration=60,
            addresses=1,
            max_requests=5_000,
            stop=stop,
            statuses=answers,
            username="reception1",
        )
    )
    try:
        await eventually(
            lambda: answers["401"] >= PAIR_FAILURES and answers["429"],
            timeout=30,
            what="the flood against her name limited",
        )
        shut = await sign_in(port, "reception1", PASSWORD, "127.0.0.1")
        assert shut.status == 429  # even the right password, from the address that flooded
        assert int(shut.headers["Retry-After"]) > 0
        hers = await sign_in(port, "reception1", PASSWORD, "127.0.0.2")
        assert not flooding.done(), "the flood ended before she signed in"
    finally:
        stop.set()
        report = await flooding
    print(f"\nflood against reception1 from 127.0.0.1: {report}")
    assert hers.status == 303 and SESSION_COOKIE in hers.cookies
    # No more passwords were checked for that pair than were already under way at the fifth.
    assert PAIR_FAILURES <= answers["401"] < PAIR_FAILURES + CHECKS_AT_ONCE


async def test_an_address_guessing_across_names_is_refused_for_all_and_no_one_else_is(
    console_server: tuple[int, Container],
) -> None:
    port, _ = console_server
    for n in range(ADDRESS_FAILURES):
        assert (await sign_in(port, f"guess-{n}", "guess", "127.0.0.3")).status == 401
    refused = await sign_in(port, "dsl1", PASSWORD, "127.0.0.3")
    assert refused.status == 429
    assert "Too many failed sign-ins from this computer. Try again in 5 minutes" in (
        await refused.text()
    )
    assert 240 < int(refused.headers["Retry-After"]) <= 300
    assert (await sign_in(port, "dsl1", PASSWORD, "127.0.0.4")).status == 303


def occupied(pool: BoundedPool) -> threading.Event:
    """Fill every worker and waiting place of `pool` until the returned event is set."""
    release = threading.Event()
    for _ in range(pool.capacity):
        pool.submit(release.wait, 30)
    return release


async def test_a_full_password_pool_answers_503_with_retry_after_at_once(
    console_server: tuple[int, Container],
) -> None:
    port, c = console_server
    release = occupied(c.pools.passwords)
    try:
        busy = await sign_in(port, "dsl1", PASSWORD, "127.0.0.5")
        assert busy.status == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert "busy checking other sign-ins" in await busy.text()
    finally:
        release.set()
    signed = await eventually(
        lambda: c.pools.passwords.taken == 0, what="the password pool emptied"
    )
    assert signed
    assert (await sign_in(port, "dsl1", PASSWORD, "127.0.0.5")).status == 303


async def test_a_full_export_pool_answers_503_with_retry_after(
    console_server: tuple[int, Container],
) -> None:
    port, c = console_server
    alert_id = await an_sos(c.app, c.projector, "export-busy")
    token = c.app.issue_token("dsl1")
    url = f"http://127.0.0.1:{port}/api/v1/timeline/export?alert={alert_id}&format=json"
    headers = {"Authorization": f"Bearer {token}"}
    release = occupied(c.pools.exports)
    try:
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as busy:
            assert busy.status == 503
            assert int(busy.headers["Retry-After"]) >= 1
            assert "exports pool is full" in (await busy.json())["detail"]
    finally:
        release.set()
    await eventually(lambda: c.pools.exports.taken == 0, what="the export pool emptied")
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as done:
        assert done.status == 200


class WatchedExecutor(ThreadPoolExecutor):
    """The default executor, noting the name of every function it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="watched-default")
        self.names: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        # asyncio.to_thread submits functools.partial(context.run, func, ...)
        inner = fn.args[0] if isinstance(fn, functools.partial) and fn.args else fn
        self.names.append(getattr(inner, "__qualname__", repr(inner)))
        return super().submit(fn, *args, **kwargs)


async def test_nothing_an_anonymous_client_sends_runs_on_the_default_executor(
    console_server: tuple[int, Container],
) -> None:
    """Issue 10: "Nothing an anonymous client can trigger may share a queue with an SOS"
    (the gateway's and the scheduler's store calls use the default executor). GET
    /api/v1/health asks the store on a thread of its own (tests/integration/test_health.py)."""
    port, _ = console_server
    loop = asyncio.get_running_loop()
    watched = WatchedExecutor()
    loop.set_default_executor(watched)
    made_up = "lws_" + "x" * 43
    cookie = {SESSION_COOKIE: made_up}
    base = f"http://127.0.0.1:{port}"
    try:
        assert (await sign_in(port, "dsl1", "wrong", "127.0.0.6")).status == 401
        assert (await sign_in(port, "dsl1", PASSWORD, "127.0.0.6")).status == 303
        async with aiohttp.ClientSession() as session:
            for path in ("/console/login", "/console/", "/api/v1/alerts", "/api/v1/session"):
                async with session.get(base + path, cookies=cookie, allow_redirects=False) as r:
                    assert r.status in (200, 303, 401), (path, r.status)
            async with session.get(base + "/api/v1/health") as r:
                assert r.status in (200, 503)
            bearer = {"Authorization": "Bearer lwt_made_up_token"}
            async with session.get(base + "/api/v1/alerts", headers=bearer) as r:
                assert r.status == 401
            csrf = {"csrf_token": sessions.csrf_token(made_up)}
            async with session.post(
                base + "/console/logout", data=csrf, cookies=cookie, allow_redirects=False
            ) as r:
                assert r.status == 303
    finally:
        watched.shutdown(wait=True)
    anonymous = {"sign_in", "principal_for_session", "sign_out", "principal_for_token", "read"}
    assert not [n for n in watched.names if n.rsplit(".", 1)[-1] in anonymous], watched.names
