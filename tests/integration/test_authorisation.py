"""Every API route, for every role, including another school's people: who gets what.

Refusals say why: 401 without credentials, 403 for a role that may not (the
message names the role), 404 for what belongs to another school (so its existence
is not given away).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.clock import FakeClock
from service.config import Settings
from service.domain.visits.overdue_ladder import call_home_task
from service.domain.visits.visit import visit_id
from tests.console_world import CALLERS, a_reception_task, an_sos
from tests.trust_api import Api, trust_api
from tests.visit_worlds import at

OK, UNAUTHORISED, FORBIDDEN, NOT_FOUND = 200, 401, 403, 404
ROLES = [*CALLERS, "anonymous"]
TASK = call_home_task(visit_id("authz-task"), 1)


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[str], str]
    expected: dict[str, int]
    body: dict[str, Any] | None = None


def watchers(other_school: int) -> dict[str, int]:
    """The contact centre, DSL, headteacher and admin; not staff; another school's: `other_school`."""
    return {
        "staff": FORBIDDEN,
        "operator": OK,
        "dsl": OK,
        "headteacher": OK,
        "admin": OK,
        "other school's operator": other_school,
        "other school's dsl": other_school,
    }


def only(*allowed: str, other: int = NOT_FOUND) -> dict[str, int]:
    table = {role: (OK if role in allowed else FORBIDDEN) for role in CALLERS}
    for role in ("other school's operator", "other school's dsl"):
        if table[role] == OK:
            table[role] = other
    return table


EVERYONE = dict.fromkeys(CALLERS, OK)
ROUTES: dict[str, Route] = {
    "health": Route("GET", lambda a: "/api/v1/health", {**EVERYONE, "anonymous": OK}),
    "session": Route("GET", lambda a: "/api/v1/session", EVERYONE),
    "alert list": Route("GET", lambda a: "/api/v1/alerts", watchers(OK)),
    "alert history": Route("GET", lambda a: "/api/v1/alerts/history?kind=sos", watchers(OK)),
    "visit history": Route("GET", lambda a: "/api/v1/visits/history?overdue=true", EVERYONE),
    "open alerts": Route("GET", lambda a: "/api/v1/alerts?state=open", watchers(OK)),
    "one alert": Route("GET", lambda a: f"/api/v1/alerts/{a}", watchers(NOT_FOUND)),
    "alert as of": Route(
        "GET", lambda a: f"/api/v1/alerts/{a}?as_of=2100-01-01T00:00:00Z", watchers(NOT_FOUND)
    ),
    "acknowledge": Route("POST", lambda a: f"/api/v1/alerts/{a}/acknowledge", watchers(NOT_FOUND)),
    "resolve": Route(
        "POST",
        lambda a: f"/api/v1/alerts/{a}/resolve",
        watchers(NOT_FOUND),
        {"outcome": "safe", "note": "rang back, fine"},
    ),
    "alert note": Route(
        "POST",
        lambda a: f"/api/v1/alerts/{a}/notes",
        watchers(NOT_FOUND),
        {"text": "rang the home, no answer"},
    ),
    "colleagues": Route("GET", lambda a: "/api/v1/colleagues", watchers(OK)),
    "users": Route("GET", lambda a: "/api/v1/users", only("admin")),
    "device list": Route("GET", lambda a: "/api/v1/devices", watchers(OK)),
    "one device": Route("GET", lambda a: "/api/v1/devices/sos-0001", watchers(NOT_FOUND)),
    "alert timeline": Route("GET", lambda a: f"/api/v1/timeline?alert={a}", watchers(NOT_FOUND)),
    "device timeline": Route(
        "GET", lambda a: "/api/v1/timeline?device=sos-0001", watchers(NOT_FOUND)
    ),
    "staff timeline": Route("GET", lambda a: "/api/v1/timeline?staff=s-jones", watchers(NOT_FOUND)),
    "alert verdict": Route(
        "GET", lambda a: f"/api/v1/timeline/verdict?alert={a}", watchers(NOT_FOUND)
    ),
    "device verdict": Route(
        "GET", lambda a: "/api/v1/timeline/verdict?device=sos-0001", watchers(NOT_FOUND)
    ),
    "export html": Route(
        "GET",
        lambda a: f"/api/v1/timeline/export?alert={a}&format=html",
        only("dsl", "headteacher", "admin", "other school's dsl"),
    ),
    "export json": Route(
        "GET",
        lambda a: f"/api/v1/timeline/export?alert={a}&format=json",
        only("dsl", "headteacher", "admin", "other school's dsl"),
    ),
    "audit trail": Route("GET", lambda a: "/api/v1/audit", only("admin")),
    "live stream": Route("GET", lambda a: "/api/v1/stream", watchers(OK)),
    "visit board": Route("GET", lambda a: "/api/v1/visits?state=out", EVERYONE),
    "staff to plan for": Route("GET", lambda a: "/api/v1/staff", EVERYONE),
    "open tasks": Route("GET", lambda a: "/api/v1/tasks?state=open", watchers(OK)),
    "task done": Route(
        "POST",
        lambda a: f"/api/v1/tasks/{TASK}/done",
        watchers(NOT_FOUND),
        {"note": "spoke to parent, visitor left 10 min ago"},
    ),
}
for _route in ROUTES.values():
    _route.expected.setdefault("anonymous", UNAUTHORISED)


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    # Every route for every role, back to back: more than a person's rate limit allows
    # (tests/integration/test_api_bounds.py tests the limit itself).
    settings = Settings(database_url=sqlite_url, api_rate_limit="1000/second")
    async with trust_api(
        aiohttp_client, settings, clock=FakeClock(at(9, 0)), every_role=True
    ) as it:
        yield it


async def _status(client: TestClient[Any, Any], route: Route, path: str, headers: Any) -> int:
    if route.method == "GET" and path.endswith("/stream"):
        async with client.get(path, headers=headers) as response:
            return response.status  # closed at once: the stream would never end
    response = await client.request(route.method, path, headers=headers, json=route.body)
    body = await response.read()
    if path == "/api/v1/health" and response.status == 503:
        # Health answered: its 503 says how the service is ("degraded"), not who may ask.
        assert response.content_type == "application/json", body
        return OK
    if response.status >= 400:
        assert response.content_type == "application/problem+json", (path, body)
    return response.status


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_answers_each_role_as_the_table_says(api: Any, role: str) -> None:
    client, container = api
    if role == "anonymous":
        headers = {}
    else:
        token = container.app.issue_token(CALLERS[role])
        headers = {"Authorization": f"Bearer {token}"}
    assert isinstance(container.clock, FakeClock)
    assert (
        await asyncio.to_thread(a_reception_task, container, container.clock, "authz-task") == TASK
    )
    wrong = []
    for n, (name, route) in enumerate(ROUTES.items()):
        alert_id = await an_sos(container.app, container.projector, f"authz-{role}-{n}")
        status = await _status(client, route, route.path(alert_id), headers)
        if status != route.expected[role]:
            wrong.append(f"{name}: expected {route.expected[role]}, got {status}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


async def test_lists_show_another_schools_caller_nothing_of_ours(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container.app, container.projector, "lists-1")
    theirs = {"Authorization": f"Bearer {container.app.issue_token('kreception')}"}
    alerts = await (await client.get("/api/v1/alerts", headers=theirs)).json()
    devices = await (await client.get("/api/v1/devices", headers=theirs)).json()
    assert alert_id not in [a["id"] for a in alerts["alerts"]]
    assert [d["id"] for d in devices["devices"]] == ["sos-0002"]


async def test_refusals_say_who_may_not_do_what(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container.app, container.projector, "why-1")
    staff = {"Authorization": f"Bearer {container.app.issue_token('teacher1')}"}
    operator = {"Authorization": f"Bearer {container.app.issue_token('reception1')}"}
    refused = await (await client.get("/api/v1/alerts", headers=staff)).json()
    assert "a staff cannot watch the alert feed" in refused["detail"]
    export = await client.get(f"/api/v1/timeline/export?alert={alert_id}", headers=operator)
    detail = (await export.json())["detail"]
    assert "only the DSL, the headteacher or an admin may print or export" in detail
    assert "(your role: contact centre)" in detail
    audit = await client.get("/api/v1/audit", headers=operator)
    assert "cannot read the audit trail" in (await audit.json())["detail"]
