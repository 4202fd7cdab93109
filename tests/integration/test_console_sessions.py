"""Signing in to the console, the session cookie on the API, CSRF, and signing out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.config import Settings
from service.domain.people.sign_in_limits import PAIR_FAILURES
from service.entrypoints.http.auth import SESSION_COOKIE
from tests.console_world import PASSWORD, an_sos
from tests.trust_api import Api, trust_api


@pytest.fixture
async def console(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, Settings(database_url=sqlite_url), every_role=True) as it:
        yield it


async def sign_in(client: TestClient[Any, Any], user: str, password: str = PASSWORD) -> Any:
    return await client.post(
        "/console/login",
        data={"username": user, "password": password, "next": "/console/devices"},
        allow_redirects=False,
    )


async def test_a_right_password_starts_a_session_and_a_wrong_one_does_not(console: Any) -> None:
    client, _ = console
    wrong = await sign_in(client, "reception1", "not the password")
    assert wrong.status == 401 and "do not match" in await wrong.text()
    assert SESSION_COOKIE not in wrong.cookies
    unknown = await sign_in(client, "nobody")
    assert unknown.status == 401
    right = await sign_in(client, "reception1")
    assert right.status == 303 and right.headers["Location"] == "/console/devices"
    cookie = right.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    me = await (await client.get("/api/v1/session")).json()
    assert (me["username"], me["role"], me["school"]) == ("reception1", "operator", "lancaster")
    assert len(me["csrf_token"]) == 64
    assert me["map"] == {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© OpenStreetMap contributors",
    }


async def test_pages_need_a_session(console: Any) -> None:
    client, _ = console
    away = await client.get("/console/devices", allow_redirects=False)
    assert away.status == 303
    assert away.headers["Location"] == "/console/login?next=/console/devices"
    await sign_in(client, "dsl1")
    page = await client.get("/console/devices")
    assert page.status == 200 and "Devices" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # The map's tiles are the one thing a page loads from elsewhere (LW_MAP_TILES).
    assert (
        "img-src 'self' data: https://tile.openstreetmap.org;"
        in (page.headers["Content-Security-Policy"])
    )


async def test_unsafe_requests_with_a_session_need_the_csrf_token(console: Any) -> None:
    client, container = console
    alert_id = await an_sos(container.app, container.projector, "csrf-1")
    await sign_in(client, "reception1")
    csrf = (await (await client.get("/api/v1/session")).json())["csrf_token"]
    bare = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge")
    assert bare.status == 403 and "X-CSRF-Token" in (await bare.json())["detail"]
    forged = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers={"X-CSRF-Token": "0" * 64}
    )
    assert forged.status == 403
    cross_site = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge",
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross_site.status == 403
    taken = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers={"X-CSRF-Token": csrf}
    )
    assert taken.status == 200
    body = await taken.json()
    assert (body["acknowledged_by"], body["acknowledged_via"]) == ("operator:reception1", "console")


async def test_bearer_tokens_need_no_csrf_token(console: Any) -> None:
    client, container = console
    alert_id = await an_sos(container.app, container.projector, "csrf-2")
    token = container.app.issue_token("reception1")
    taken = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers={"Authorization": f"Bearer {token}"}
    )
    assert taken.status == 200


async def test_signing_out_ends_the_session_for_good(console: Any) -> None:
    client, _ = console
    response = await sign_in(client, "dsl1")
    token = response.cookies[SESSION_COOKIE].value
    client.session.cookie_jar.clear()
    cookie = {SESSION_COOKIE: token}  # sent by hand from here on, as a thief would
    me = await client.get("/api/v1/session", cookies=cookie)
    assert me.status == 200
    csrf = (await me.json())["csrf_token"]
    refused = await client.post("/console/logout", cookies=cookie, allow_redirects=False)
    assert refused.status == 403  # no token: another site cannot sign you out either
    out = await client.post(
        "/console/logout", data={"csrf_token": csrf}, cookies=cookie, allow_redirects=False
    )
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    # The old cookie, sent again, is refused: the session's end was recorded.
    again = await client.get("/api/v1/session", cookies=cookie)
    assert again.status == 401


async def test_repeated_wrong_passwords_are_throttled_and_say_when_to_try_again(
    console: Any,
) -> None:
    client, _ = console
    for _ in range(PAIR_FAILURES):
        assert (await sign_in(client, "dsl1", "guess")).status == 401
    throttled = await sign_in(client, "dsl1")
    assert throttled.status == 429
    assert 240 < int(throttled.headers["Retry-After"]) <= 300
    assert "Too many wrong passwords for this name" in await throttled.text()
    assert "Try again in 5 minutes" in await throttled.text()
