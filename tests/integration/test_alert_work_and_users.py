"""Over real HTTP: notes and handovers on an alert, and an admin managing users, each
effective at once and visible where a person looks (the alert, the audit trail)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from service.adapters.directory_file import load_directory
from service.config import Settings
from service.domain.people.directory import Role, UserSpec
from service.logs import TOKEN_PATTERN
from tests.console_world import PASSWORD, an_sos
from tests.trust_api import Api, as_, trust_api
from tests.worlds import DIRECTORY


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url, api_rate_limit="1000/second")
    async with trust_api(aiohttp_client, settings, every_role=True) as it:
        yield it


bearer = as_


async def test_notes_and_a_handover_are_on_the_alert_and_in_its_record(api: Any) -> None:
    client, c = api
    alert_id = await an_sos(c.app, c.projector, "work-1")
    reception = bearer(c, "reception1")
    noted = await client.post(
        f"/api/v1/alerts/{alert_id}/notes",
        json={"text": "rang the home, no answer"},
        headers=reception,
    )
    assert noted.status == 200, await noted.text()
    early = await client.post(
        f"/api/v1/alerts/{alert_id}/handover", json={"to": "dsl1"}, headers=reception
    )
    assert early.status == 409 and "acknowledge it first" in (await early.json())["detail"]
    await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=reception)
    staff = await client.post(
        f"/api/v1/alerts/{alert_id}/handover", json={"to": "teacher1"}, headers=reception
    )
    assert (
        staff.status == 422 and "cannot take this school's alerts" in (await staff.json())["detail"]
    )
    other = await client.post(
        f"/api/v1/alerts/{alert_id}/handover", json={"to": "kreception"}, headers=reception
    )
    assert other.status == 422
    handed = await client.post(
        f"/api/v1/alerts/{alert_id}/handover",
        json={"to": "dsl1", "note": "police called, DSL to follow up"},
        headers=reception,
    )
    assert handed.status == 200
    doc = await handed.json()
    assert doc["handed_to"] == "dsl:dsl1"
    # dsl1 has no mobile in this directory: handed over all the same, and the console says so.
    assert doc["handover"]["texted"] is False
    assert doc["handover"]["said"] == (
        "dsl1 (DSL) was not texted: no mobile on record. Tell them yourself."
    )
    assert not [n for n in doc["notifications"].values() if n["step"] == "handover"]
    assert [(w["kind"], w["by"], w["text"]) for w in doc["work"]] == [
        ("note", "operator:reception1", "rang the home, no answer"),
        ("handover", "operator:reception1", "police called, DSL to follow up"),
    ]
    assert doc["work"][1]["texted"] == "no_mobile"  # recorded on the handover itself
    timeline = await (
        await client.get(f"/api/v1/timeline?alert={alert_id}", headers=bearer(c, "dsl1"))
    ).json()
    summaries = [row["summary"] for row in timeline["events"]]
    assert "note by reception1 (contact centre): rang the home, no answer" in summaries
    assert (
        "reception1 (contact centre) handed the alert to dsl1 (DSL); not texted: no mobile on "
        "record - police called, DSL to follow up"
    ) in summaries
    printed = await client.get(
        f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=bearer(c, "dsl1")
    )
    record = await printed.text()
    assert "note by reception1 (contact centre): rang the home, no answer" in record
    assert (
        "reception1 (contact centre) handed the alert to dsl1 (DSL); not texted: no mobile on "
        "record - police called, DSL to follow up"
    ) in record
    colleagues = await (await client.get("/api/v1/colleagues", headers=reception)).json()
    names = [p["username"] for p in colleagues["colleagues"]]
    assert "dsl1" in names and "teacher1" not in names and "kreception" not in names
    refused = await client.post(
        f"/api/v1/alerts/{alert_id}/notes", json={"text": "hi"}, headers=bearer(c, "teacher1")
    )
    assert refused.status == 403


async def sign_in(client: TestClient[Any, Any], user: str, password: str = PASSWORD) -> int:
    client.session.cookie_jar.clear()
    response = await client.post(
        "/console/login",
        data={"username": user, "password": password, "next": "/console/"},
        allow_redirects=False,
    )
    return response.status


async def test_an_invited_user_chooses_a_password_with_the_link_once(api: Any) -> None:
    client, c = api
    admin = bearer(c, "admin1")
    made = await client.post(
        "/api/v1/users",
        json={"username": "a.new", "role": "operator", "school": "lancaster"},
        headers=admin,
    )
    assert made.status == 201, await made.text()
    link = (await made.json())["link"]
    query = parse_qs(urlsplit(link).query)
    assert TOKEN_PATTERN.fullmatch(query["code"][0]), "token-shaped: masked in every log line"
    page = await client.get(link)
    assert page.status == 200 and "a.new" in await page.text()
    form = {"username": "a.new", "code": query["code"][0], "password": "a long new password"}
    mismatch = await client.post("/console/welcome", data={**form, "again": "something else"})
    assert mismatch.status == 422 and "differ" in await mismatch.text()
    done = await client.post(
        "/console/welcome", data={**form, "again": form["password"]}, allow_redirects=False
    )
    assert done.status == 303, await done.text()
    again = await client.post("/console/welcome", data={**form, "again": form["password"]})
    assert again.status == 422 and "not valid any more" in await again.text()
    assert await sign_in(client, "a.new", "a long new password") == 303
    listed = await (await client.get("/api/v1/users", headers=admin)).json()
    [mine] = [u for u in listed["users"] if u["username"] == "a.new"]
    assert mine["has_password"] and not mine["link_pending"] and not mine["in_directory"]
    duplicate = await client.post(
        "/api/v1/users",
        json={"username": "a.new", "role": "dsl", "school": "lancaster"},
        headers=admin,
    )
    assert duplicate.status == 409
    no_school = await client.post(
        "/api/v1/users", json={"username": "b.new", "role": "dsl"}, headers=admin
    )
    assert no_school.status == 422 and "belongs to a school" in (await no_school.json())["detail"]
    dsl = await client.get("/api/v1/users", headers=bearer(c, "dsl1"))
    assert dsl.status == 403


async def test_disabling_stops_sessions_and_tokens_at_once_and_is_audited(api: Any) -> None:
    client, c = api
    admin = bearer(c, "admin1")
    token = bearer(c, "reception1")
    assert (await client.get("/api/v1/alerts", headers=token)).status == 200  # cached now
    assert await sign_in(client, "reception1") == 303
    assert (await client.get("/api/v1/session")).status == 200
    off = await client.post(
        "/api/v1/users/reception1/disable", json={"reason": "left the school"}, headers=admin
    )
    assert off.status == 200 and (await off.json())["disabled"] is True
    assert (await client.get("/api/v1/session")).status == 401, "the session ended at once"
    assert (await client.get("/api/v1/alerts", headers=token)).status == 401, "and the token"
    assert await sign_in(client, "reception1") == 401
    self_off = await client.post("/api/v1/users/admin1/disable", headers=admin)
    assert self_off.status == 403
    on = await client.post("/api/v1/users/reception1/enable", headers=admin)
    assert (await on.json())["disabled"] is False
    assert (await client.get("/api/v1/alerts", headers=token)).status == 200
    await asyncio.to_thread(c.projector.catch_up)
    audit = (await (await client.get("/api/v1/audit", headers=admin)).json())["audit"]
    actions = [(a["action"], a["actor"], a["subject"]) for a in audit[:2]]
    assert actions == [
        ("user_enabled", "admin:admin1", "user:reception1"),
        ("user_disabled", "admin:admin1", "user:reception1"),
    ]
    assert audit[1]["detail"] == "left the school"


async def test_a_reset_ends_the_old_password_and_a_role_change_counts_at_once(api: Any) -> None:
    client, c = api
    admin = bearer(c, "admin1")
    assert await sign_in(client, "dsl1") == 303
    reset = await client.post("/api/v1/users/dsl1/reset-password", headers=admin)
    assert (
        reset.status == 200 and "/console/welcome?user=dsl1&code=" in (await reset.json())["link"]
    )
    assert (await client.get("/api/v1/session")).status == 401
    assert await sign_in(client, "dsl1") == 401, "the old password no longer works"
    token = bearer(c, "teacher1")
    assert (await client.get("/api/v1/alerts", headers=token)).status == 403
    changed = await client.post(
        "/api/v1/users/teacher1/role",
        json={"role": "operator", "school": "lancaster"},
        headers=admin,
    )
    assert (await changed.json())["role"] == "operator"
    assert (await client.get("/api/v1/alerts", headers=token)).status == 200


async def test_a_reimport_of_the_directory_keeps_console_changes(api: Any) -> None:
    """Imported at every start: an unchanged file must not undo what an admin did."""
    client, c = api
    admin = bearer(c, "admin1")
    await client.post(
        "/api/v1/users/teacher1/role",
        json={"role": "operator", "school": "lancaster"},
        headers=admin,
    )
    await client.post("/api/v1/users/dsl1/disable", headers=admin)
    await client.post(
        "/api/v1/users",
        json={"username": "c.new", "role": "dsl", "school": "lancaster"},
        headers=admin,
    )
    directory = load_directory(DIRECTORY)
    extra = (UserSpec("head1", "lancaster", Role.HEADTEACHER), UserSpec("admin1", None, Role.ADMIN))
    await asyncio.to_thread(
        c.app.import_directory, dataclasses.replace(directory, users=(*directory.users, *extra))
    )
    users = {
        u["username"]: u
        for u in (await (await client.get("/api/v1/users", headers=admin)).json())["users"]
    }
    assert users["teacher1"]["role"] == "operator"
    assert users["dsl1"]["disabled"] is True
    assert users["c.new"]["role"] == "dsl" and not users["c.new"]["in_directory"]
    assert users["kdsl"]["role"] == "dsl", "a user the file no longer lists is left alone"
