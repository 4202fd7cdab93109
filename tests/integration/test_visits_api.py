"""Home visits through the JSON API (INTERFACES.md section 4), with a real HTTP client."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from service.clock import FakeClock
from service.config import Settings
from tests.console_world import devices
from tests.harness import REPO, cli, eventually
from tests.trust_api import Api, Client, a_plan, act, as_, text, texting, trust_api
from tests.visit_worlds import HAZARDS, MONDAY, at
from tests.visit_worlds import VISITS_DIRECTORY as VISITS


@pytest.fixture
async def api(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=database_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=VISITS) as it:
        yield it


@pytest.fixture
async def sqlite_api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=VISITS) as it:
        yield it


PLAN = a_plan(hazards=None)


async def plan(client: Client, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/visits", json={**PLAN, **changes}, headers=headers)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_lone_visit_from_plan_to_close_over_http(api: Api) -> None:
    client, c = api
    staff, dsl = as_(c, "s-jones"), as_(c, "dsl1")
    visit = await plan(client, staff, hazards=HAZARDS, safe_word="lighthouse")
    assert visit["state"] == "planned" and "safe_word_hash" not in visit
    assert "lighthouse" not in json.dumps(visit)
    vid = visit["id"]
    refused = await act(client, vid, "authorise", as_(c, "reception1"))
    assert refused.status == 422 and refused.content_type == "application/problem+json"
    assert "cannot authorise home visits" in (await refused.json())["detail"]
    assert (await act(client, vid, "authorise", dsl)).status == 200
    no_device = await act(client, vid, "depart", staff)
    assert no_device.status == 422
    assert "not been heard from" in (await no_device.json())["detail"]
    await asyncio.to_thread(devices(c).heartbeat, "sos-0001", 90)
    await asyncio.to_thread(c.projector.catch_up)
    assert (await act(client, vid, "depart", staff)).status == 200
    early = await act(client, vid, "report", staff, outcome="completed", notes="x",
                      safeguarding_concern=False)  # fmt: skip
    assert early.status == 409 and "cannot report" in (await early.json())["detail"]
    for action in ("arrive", "leave", "return"):
        assert (await act(client, vid, action, staff)).status == 200, action
    reported = await act(
        client, vid, "report", staff, outcome="completed", notes="Parent engaged.",
        safeguarding_concern=False,
    )  # fmt: skip
    assert reported.status == 200
    closed = await (await act(client, vid, "close", dsl)).json()
    assert closed["state"] == "closed"


async def test_the_board_lists_who_is_out_and_staff_see_only_their_own(sqlite_api: Api) -> None:
    client, c = sqlite_api
    dsl = as_(c, "dsl1")
    lone = await plan(client, dsl)
    pair = await plan(client, dsl, staff=["p-patel", "r-ross"], ref="pair-1")
    for visit in (lone, pair):
        await act(client, visit["id"], "risk_assessment", dsl, hazards=HAZARDS)
        await act(client, visit["id"], "authorise", dsl)
    assert (await act(client, pair["id"], "depart", as_(c, "p-patel"))).status == 200
    await asyncio.to_thread(c.projector.catch_up)
    out = await (await client.get("/api/v1/visits?state=out", headers=dsl)).json()
    assert [v["id"] for v in out["visits"]] == [pair["id"]]
    assert out["visits"][0]["due_back_by"] == at(10, 40).isoformat()
    tuesday = {
        n: (at(h, m) + timedelta(days=1)).isoformat()
        for n, h, m in (
            ("planned_start", 9, 30),
            ("expected_leave", 10, 15),
            ("expected_return", 10, 30),
        )
    }
    later = await plan(client, dsl, ref="tue-1", staff=["p-patel", "r-ross"], **tuesday)
    today = await (await client.get("/api/v1/visits?date=2026-11-23", headers=dsl)).json()
    assert sorted(v["id"] for v in today["visits"]) == sorted([lone["id"], pair["id"]])
    cancelled = await act(client, later["id"], "cancel", dsl, reason="family moved away")
    assert (await cancelled.json())["state"] == "cancelled"
    mine = await (await client.get("/api/v1/visits", headers=as_(c, "s-jones"))).json()
    assert [v["id"] for v in mine["visits"]] == [lone["id"]]
    theirs = await client.get(f"/api/v1/visits/{pair['id']}", headers=as_(c, "s-jones"))
    assert theirs.status == 404
    other_school = await client.get(f"/api/v1/visits/{lone['id']}", headers=as_(c, "kdsl"))
    assert other_school.status == 404
    assert (await client.get("/api/v1/visits?state=asleep", headers=dsl)).status == 400


async def test_a_visit_as_it_stood_at_an_instant_is_rebuilt_from_its_events(
    sqlite_api: Api,
) -> None:
    client, c = sqlite_api
    dsl = as_(c, "dsl1")
    visit = await plan(client, dsl, hazards=HAZARDS)
    assert isinstance(c.clock, FakeClock)
    c.clock.set(at(8, 30))
    await act(client, visit["id"], "authorise", dsl)
    before = await client.get(
        f"/api/v1/visits/{visit['id']}?as_of={at(8, 15).isoformat()}", headers=dsl
    )
    assert (await before.json())["state"] == "planned"
    now = await (await client.get(f"/api/v1/visits/{visit['id']}", headers=dsl)).json()
    assert now["state"] == "authorised"
    bad = await client.get(f"/api/v1/visits/{visit['id']}?as_of=yesterday", headers=dsl)
    assert bad.status == 400


async def test_bad_plans_get_a_problem_that_says_what_to_fix(sqlite_api: Api) -> None:
    client, c = sqlite_api
    dsl = as_(c, "dsl1")
    named = await client.post(
        "/api/v1/visits", json={**PLAN, "pupil_ref": "Tom Smith"}, headers=dsl
    )
    assert named.status == 422 and "never the pupil's name" in (await named.json())["detail"]
    no_time = await client.post("/api/v1/visits", json={**PLAN, "planned_start": None}, headers=dsl)
    assert no_time.status == 400 and "planned_start" in (await no_time.json())["detail"]
    stranger = await client.post("/api/v1/visits", json={**PLAN, "staff": "k-smith"}, headers=dsl)
    assert stranger.status == 422
    for_someone_else = await client.post(
        "/api/v1/visits", json={**PLAN, "staff": "p-patel"}, headers=as_(c, "s-jones")
    )
    assert for_someone_else.status == 422
    assert "staff plan their own visits" in (await for_someone_else.json())["detail"]
    visit = await plan(client, dsl)
    unknown = await act(client, visit["id"], "teleport", dsl)
    assert unknown.status == 404 and "authorise" in (await unknown.json())["detail"]


async def test_the_visit_timeline_the_stream_and_the_replay_command(
    sqlite_api: Api, sqlite_url: str
) -> None:
    client, c = sqlite_api
    dsl = as_(c, "dsl1")
    stream = await client.get("/api/v1/stream", headers=dsl)
    received: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        event = None
        async for raw in stream.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                received.append((event, json.loads(line.split(":", 1)[1])))

    reader = asyncio.create_task(read())
    await eventually(lambda: received, what="stream hello")
    visit = await plan(client, dsl, hazards=HAZARDS)
    await act(client, visit["id"], "authorise", dsl)
    await eventually(
        lambda: [d for e, d in received if e == "visit" and d["state"] == "authorised"],
        what="the visit on the stream",
    )
    reader.cancel()
    stream.close()
    body = await (await client.get(f"/api/v1/timeline?visit={visit['id']}", headers=dsl)).json()
    assert [e["event"] for e in body["events"]] == [
        "Visit.Planned",
        "Visit.RiskAssessed",
        "Visit.Authorised",
    ]
    out = await asyncio.to_thread(
        cli, {"LW_DATABASE_URL": sqlite_url}, "replay", "--visit", visit["id"]
    )
    assert "authorised by dsl1 (DSL)" in out and "risk assessed by" in out


async def test_a_signed_text_moves_the_senders_visit_on(
    sqlite_url: str, aiohttp_client: Any
) -> None:
    """'Staff texts: ARRIVED, LEFT, BACK, OK (case-insensitive) move their current visit on'
    (INTERFACES.md section 3), through the signed webhook, with the one staff reply."""
    from service.domain.people.texts import STAFF_REPLY

    settings, clock = texting(sqlite_url), FakeClock(MONDAY)
    async with trust_api(aiohttp_client, settings, clock=clock, directory=VISITS) as served:
        client, container = served
        dsl = as_(container, "dsl1")
        visit = await plan(client, dsl, staff=["p-patel", "r-ross"], hazards=HAZARDS)
        await act(client, visit["id"], "authorise", dsl)
        await act(client, visit["id"], "depart", as_(container, "p-patel"))
        replies = [STAFF_REPLY, "Lonewatch: recorded: you left the property (08:00)."]
        for sid, (sender, body) in enumerate(
            [("+447700900004", "arrived"), ("+447700900003", "Left now")]
        ):
            response = await text(client, sender, body, f"S{sid}")
            assert replies[sid] in await response.text()
        now = await (await client.get(f"/api/v1/visits/{visit['id']}", headers=dsl)).json()
        assert now["state"] == "left"


def documented_body() -> dict[str, Any]:
    docs = (REPO / "docs" / "visits.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- plan-visit-body -->\s*```json\n(.*?)```", docs, re.S)
    assert found, "docs/visits.md lost its plan-visit-body block"
    body: dict[str, Any] = json.loads(found.group(1))
    return body


async def test_the_documented_plan_is_accepted_as_written(api: Api) -> None:
    client, container = api
    body = documented_body()
    made = await client.post("/api/v1/visits", json=body, headers=as_(container, "dsl1"))
    assert made.status == 201, await made.text()
    visit = await made.json()
    assert visit["ref"] == body["ref"] and len(visit["risk_assessment"]) == len(body["hazards"])
    again = await client.post("/api/v1/visits", json=body, headers=as_(container, "dsl1"))
    assert again.status in (200, 201) and (await again.json())["id"] == visit["id"]
