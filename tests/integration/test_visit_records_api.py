"""At the property and after, over the JSON API: decisions under the policies' rules, an early
end, incidents, follow-ups on the DSL's board, and the CPOMS export; reception reads none of
the visitor's words."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from service.container import Container
from tests.console_world import devices
from tests.integration.test_visits_api import HAZARDS, Client, act, as_, plan, sqlite_api

__all__ = ["sqlite_api"]


async def out_at_the_property(client: Client, c: Container) -> str:
    dsl, staff = as_(c, "dsl1"), as_(c, "s-jones")
    visit = await plan(client, staff, hazards=HAZARDS)
    assert (await act(client, visit["id"], "authorise", dsl)).status == 200
    await asyncio.to_thread(devices(c).heartbeat, "sos-0001", 90)
    await asyncio.to_thread(c.projector.catch_up)
    assert (await act(client, visit["id"], "depart", staff)).status == 200
    assert (await act(client, visit["id"], "arrive", staff)).status == 200
    return str(visit["id"])


async def test_do_not_enter_if_invited_in_by_a_child_recorded_and_the_visit_ended(
    sqlite_api: tuple[Client, Container],
) -> None:
    """'Do not enter the premises if invited to do so by a child that is on the premises
    unsupervised by a responsible adult.' (Cottenham, Roselyn House)"""
    client, c = sqlite_api
    staff = as_(c, "s-jones")
    vid = await out_at_the_property(client, c)
    refused = await act(
        client, vid, "decisions", staff, rule="bedroom", choice="entered_with_controls",
        why="asked to see the room", controls=["signed_agreement", "accompanied", "door_open"],
    )  # fmt: skip
    assert refused.status == 422
    assert "Do not enter a child's" in (await refused.json())["detail"]
    left = await act(
        client, vid, "decisions", staff, rule="invited_by_child", choice="left",
        why="a child of about eight opened the door; no adult at home",
    )  # fmt: skip
    assert left.status == 201, await left.text()
    visit = await left.json()
    assert visit["state"] == "left"
    assert visit["ended_early"]["reason"] == "invited_by_child"
    assert visit["decisions"][0]["by"] == "staff:s-jones"
    reception = await (
        await client.get(f"/api/v1/visits/{vid}", headers=as_(c, "reception1"))
    ).json()
    assert "eight" not in str(reception)  # the visitor's words are the visit's notes


async def test_an_incident_a_followup_and_the_cpoms_export(
    sqlite_api: tuple[Client, Container],
) -> None:
    client, c = sqlite_api
    staff, dsl = as_(c, "s-jones"), as_(c, "dsl1")
    vid = await out_at_the_property(client, c)
    incident = await act(client, vid, "incidents", staff, kind="injury", what="bitten by the dog")
    assert incident.status == 201, await incident.text()
    body: dict[str, Any] = await incident.json()
    assert "Complete injury at work protocol on return." in body["incidents"][0]["prompts"]
    followup = {"action": "Ring mum about the dog", "assignee": "dsl1", "due": "2026-11-27"}
    logged = await client.post(f"/api/v1/visits/{vid}/followups", json=followup, headers=dsl)
    assert logged.status == 201
    refused = await client.post(
        f"/api/v1/visits/{vid}/followups", json=followup, headers=as_(c, "reception1")
    )
    assert refused.status in (403, 404)
    await asyncio.to_thread(c.projector.catch_up)
    board = await (await client.get("/api/v1/followups?state=open", headers=dsl)).json()
    assert [f["assignee"] for f in board["followups"]] == ["s-jones", "dsl1"]
    key = board["followups"][1]["id"]
    done = await client.post(f"/api/v1/followups/{key}/done", json={"note": "rang"}, headers=dsl)
    assert done.status == 200, await done.text()
    await asyncio.to_thread(c.projector.catch_up)
    board = await (await client.get("/api/v1/followups?state=open", headers=dsl)).json()
    assert [f["assignee"] for f in board["followups"]] == ["s-jones"]
    export = await client.get(f"/api/v1/visits/{vid}/cpoms.csv", headers=dsl)
    assert export.status == 200 and export.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    records = [r["record"] for r in rows]
    assert records == ["visit", "incident (injury)", "follow-up", "follow-up"]
    assert rows[-1]["state"] == "done" and rows[-1]["due"] == "2026-11-27"
    assert (await client.get(f"/api/v1/visits/{vid}/cpoms.csv", headers=staff)).status == 403
