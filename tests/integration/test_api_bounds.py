"""The API held to its contract (issue 16): its description served, every request it cannot
use answered with a 4xx problem (the issue's own 500s among them), tokens listed and
revoked, and each client held to its rate limit."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis

from service.adapters.directory_file import load_directory
from service.application import tokens
from service.config import Settings
from service.entrypoints.http import bounds
from service.entrypoints.http.auth import TOKENS as PRINCIPAL
from service.entrypoints.http.openapi import api_routes
from service.entrypoints.http.openapi_operations import OPERATIONS
from service.entrypoints.http.rate_limits import LIMITS, ApiRateLimits
from tests.trust_api import Api, a_plan, as_, trust_api
from tests.visit_worlds import VISITS_DIRECTORY


@pytest.fixture
async def api(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, Settings(database_url=database_url)) as (client, c):
        c.app.import_directory(load_directory(VISITS_DIRECTORY))  # over the fixture directory
        yield client, c


async def problem_of(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    detail: str = (await response.json())["detail"]
    return detail


PLAN = a_plan(start=datetime(2030, 1, 7, 9, 30, tzinfo=UTC))  # ahead of the real clock


async def test_the_description_is_served_without_a_token_and_names_every_api_route(
    api: Api,
) -> None:
    client, _ = api
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert described == api_routes(client.app) == set(OPERATIONS)
    loaded = schemathesis.openapi.from_dict(document)
    assert len([r.ok() for r in loaded.get_all_operations()]) == len(OPERATIONS)


async def test_the_issues_bodies_are_refused_with_a_problem_not_a_500(
    api: Api,
) -> None:
    """INTERFACES.md section 4: bad input gets a 4xx with a message that says what to fix."""
    client, container = api
    dsl = as_(container, "dsl1")
    huge = await client.post("/api/v1/visits", data=b"[" * 100_000, headers=dsl)
    assert "64 KiB" in await problem_of(huge, 413)
    deep = await client.post("/api/v1/visits", data=b"[" * 50_000, headers=dsl)
    assert "nests deeper" in await problem_of(deep, 400)
    nested = await client.post(
        "/api/v1/visits",
        json={**PLAN, "hazards": [[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]},
        headers=dsl,
    )
    assert "nests deeper than 16" in await problem_of(nested, 400)
    planned = await client.post("/api/v1/visits", json=PLAN, headers=dsl)
    assert planned.status == 201
    surrogate = b'{"reason": "\\ud800"}'
    visit = (await planned.json())["id"]
    refused = await client.post(
        f"/api/v1/visits/{visit}/cancel",
        data=surrogate,
        headers={**dsl, "Content-Type": "application/json"},
    )
    assert "lone surrogate" in await problem_of(refused, 400)
    nul = await client.get("/api/v1/visits", params={"school": "lan\x00caster"}, headers=dsl)
    assert "NUL" in await problem_of(nul, 400)


async def test_instants_past_the_years_a_record_can_hold_are_refused(
    api: Api,
) -> None:
    client, container = api
    dsl = as_(container, "dsl1")
    planned = await (await client.post("/api/v1/visits", json=PLAN, headers=dsl)).json()
    extended = await client.post(
        f"/api/v1/visits/{planned['id']}/extend",
        json={"reason": "long meeting", "expected_return": "9999-12-31T23:59:59+00:00"},
        headers=dsl,
    )
    assert "between 1970 and 2999" in await problem_of(extended, 400)
    export = await client.get(
        "/api/v1/timeline/export",
        params={"visit": planned["id"], "as_of": "9999-12-31T23:59:59-14:00"},
        headers=dsl,
    )
    assert "between 1970 and 2999" in await problem_of(export, 400)


async def test_a_half_sent_body_is_answered_408_not_held_open(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, container = api
    monkeypatch.setattr(bounds, "BODY_SECONDS", 0.5)
    token = container.app.issue_token("dsl1")
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /api/v1/visits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n".encode()
        + b'{"staff": '
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_made_up_tokens_do_not_grow_the_cache_past_its_bound(
    api: Api,
) -> None:
    """Issue 16: 20,000 random 8 KB tokens took the process from 116 to 270 MB."""
    client, _ = api
    cache = client.app[PRINCIPAL]
    long = await client.get("/api/v1/alerts", headers={"Authorization": "Bearer " + "x" * 8000})
    assert long.status == 401 and len(cache) == 0  # refused before any lookup
    for _ in range(300):
        made_up = "lw_" + secrets.token_urlsafe(32)
        response = await client.get(
            "/api/v1/alerts", headers={"Authorization": f"Bearer {made_up}"}
        )
        assert response.status == 401
    assert len(cache) == 300  # each kept as 32 bytes; at most auth.CACHE_ENTRIES of them


def test_the_cache_forgets_the_least_recently_used_first() -> None:
    from service.domain.people.access import Principal, Role
    from service.entrypoints.http.principal_cache import PrincipalCache

    now = [0.0]
    cache = PrincipalCache(entries=2, seconds=10, clock=lambda: now[0])
    dsl = Principal(username="dsl1", school="lancaster", role=Role.DSL)
    cache.put("a", dsl)
    cache.put("b", None)
    assert cache.get("a") == (True, dsl)  # a is now the most recent
    cache.put("c", None)
    assert cache.get("b") == (False, None) and cache.get("a") == (True, dsl)
    now[0] = 11.0
    assert cache.get("a") == (False, None)  # looked up again: a revocation shows


async def test_tokens_are_listed_and_a_revoked_one_is_refused(
    api: Api,
) -> None:
    client, container = api
    token = container.app.issue_token("dsl1", label="integration")
    other = container.app.issue_token("reception1")
    listed = await asyncio.to_thread(tokens.list_tokens, container.app)
    assert [(t.username, t.label, t.revoked) for t in listed] == [
        ("dsl1", "integration", False),
        ("reception1", "cli", False),
    ]
    assert all(token not in repr(t) for t in listed)  # only ever the hash is stored
    revoked = await asyncio.to_thread(tokens.revoke_token, container.app, str(listed[0].id), "test")
    assert revoked.revoked
    again = await asyncio.to_thread(tokens.revoke_token, container.app, token, "test")
    assert again == revoked  # by the token itself too; again changes nothing
    refused = await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert "revoked" in await problem_of(refused, 401)
    kept = await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {other}"})
    assert kept.status == 200


async def test_a_client_past_its_rate_limit_gets_429_with_retry_after(
    api: Api,
) -> None:
    client, container = api
    client.app[LIMITS].items = ApiRateLimits("3/minute").items
    dsl, reception = as_(container, "dsl1"), as_(container, "reception1")
    statuses = [(await client.get("/api/v1/alerts", headers=dsl)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await client.get("/api/v1/alerts", headers=dsl)
    assert "try again in" in await problem_of(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert (await client.get("/api/v1/alerts", headers=reception)).status == 200  # per client
