"""Over real HTTP: an admin gives a console user a mobile (invite or edit), checked by the
directory file's own rule, kept in the audit trail, shown in the users list, and kept by
a re-import of the file unless that user's own entry in the file changed (docs/users.md).

A school business manager inviting the new deputy DSL expects a handover to reach their
phone without anyone editing the directory file."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.adapters.directory_file import DirectoryError, load_directory
from service.config import Settings
from service.container import Container
from service.domain.people.directory import Role, UserSpec
from tests.trust_api import Api, as_, trust_api
from tests.worlds import DIRECTORY

MOBILE = "+447700900123"


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url, api_rate_limit="1000/second")
    async with trust_api(aiohttp_client, settings, every_role=True) as it:
        yield it


bearer = as_


async def listed(client: TestClient[Any, Any], c: Container) -> dict[str, dict[str, Any]]:
    answer = await (await client.get("/api/v1/users", headers=bearer(c, "admin1"))).json()
    return {u["username"]: u for u in answer["users"]}


async def test_an_invited_user_gets_the_mobile_the_admin_gave(api: Any) -> None:
    client, c = api
    made = await client.post(
        "/api/v1/users",
        json={"username": "d.lead", "role": "dsl", "school": "lancaster", "phone": MOBILE},
        headers=bearer(c, "admin1"),
    )
    assert made.status == 201, await made.text()
    assert (await listed(client, c))["d.lead"]["phone"] == MOBILE


async def test_a_mobile_is_checked_by_the_directory_files_own_rule(api: Any, tmp_path: Any) -> None:
    """The same number the file refuses, the console refuses, in the same words."""
    client, c = api
    admin = bearer(c, "admin1")
    bad = "07700 900123"
    refused = await client.post("/api/v1/users/teacher1/phone", json={"phone": bad}, headers=admin)
    assert refused.status == 422
    said = (await refused.json())["detail"]
    assert said == f"mobile {bad!r} must be an international number like +447700900001"
    invited = await client.post(
        "/api/v1/users",
        json={"username": "e.lead", "role": "dsl", "school": "lancaster", "phone": bad},
        headers=admin,
    )
    assert invited.status == 422 and "international number" in (await invited.json())["detail"]
    assert "e.lead" not in await listed(client, c), "nobody is invited with a refused mobile"
    file = tmp_path / "directory.yaml"
    file.write_text(
        DIRECTORY.read_text(encoding="utf-8").replace(
            "{username: teacher1, school: lancaster, role: staff}",
            f"{{username: teacher1, school: lancaster, role: staff, phone: '{bad}'}}",
        ),
        encoding="utf-8",
    )
    with pytest.raises(DirectoryError, match=f"{bad!r} must be an international number"):
        load_directory(file)
    not_text = await client.post("/api/v1/users/teacher1/phone", json={"phone": 7}, headers=admin)
    assert not_text.status == 400


async def test_only_an_admin_gives_a_mobile(api: Any) -> None:
    client, c = api
    for who in ("dsl1", "reception1"):
        answer = await client.post(
            "/api/v1/users/teacher1/phone", json={"phone": MOBILE}, headers=bearer(c, who)
        )
        assert answer.status == 403
    assert (await listed(client, c))["teacher1"]["phone"] is None


async def test_a_mobile_given_changed_and_removed_is_in_the_audit_trail(api: Any) -> None:
    client, c = api
    admin = bearer(c, "admin1")
    given = await client.post(
        "/api/v1/users/reception1/phone", json={"phone": MOBILE}, headers=admin
    )
    assert given.status == 200 and (await given.json())["phone"] == MOBILE
    again = await client.post(
        "/api/v1/users/reception1/phone", json={"phone": MOBILE}, headers=admin
    )
    assert again.status == 200
    removed = await client.post(
        "/api/v1/users/reception1/phone", json={"phone": None}, headers=admin
    )
    assert (await removed.json())["phone"] is None
    await asyncio.to_thread(c.projector.catch_up)
    audit = (await (await client.get("/api/v1/audit", headers=admin)).json())["audit"]
    mine = [a for a in audit if a["subject"] == "user:reception1" and a["role"] == "admin"]
    assert [(a["action"], a["actor"]) for a in mine] == [
        ("user_role_changed", "admin:admin1"),
        ("user_role_changed", "admin:admin1"),
    ], "given and removed: two changes (the same number again records nothing)"
    details = [a["detail"] for a in mine]
    assert sorted(d.rpartition("; ")[2] for d in details) == ["mobile given", "mobile removed"]
    assert all(MOBILE not in d for d in details), "the trail says a mobile changed, not which"
    assert (await listed(client, c))["reception1"]["role"] == "operator", "role untouched"


async def test_a_reimport_keeps_a_console_mobile_until_the_users_entry_changes(
    api: Any,
) -> None:
    """docs/users.md: "A user the file lists is changed only when the file's own entry for
    them changed since the last import.\""""
    client, c = api
    admin = bearer(c, "admin1")
    await client.post("/api/v1/users/teacher1/phone", json={"phone": MOBILE}, headers=admin)
    directory = load_directory(DIRECTORY)
    await asyncio.to_thread(c.app.import_directory, directory)
    assert (await listed(client, c))["teacher1"]["phone"] == MOBILE, "an unchanged file"

    edited = tuple(
        UserSpec("teacher1", "lancaster", Role.STAFF, phone="+447700900999")
        if u.username == "teacher1"
        else u
        for u in directory.users
    )
    await asyncio.to_thread(c.app.import_directory, dataclasses.replace(directory, users=edited))
    assert (await listed(client, c))["teacher1"]["phone"] == "+447700900999", "the file's new line"

    await client.post("/api/v1/users/teacher1/phone", json={"phone": None}, headers=admin)
    await asyncio.to_thread(c.app.import_directory, dataclasses.replace(directory, users=edited))
    assert (await listed(client, c))["teacher1"]["phone"] is None, "removed in the console stands"
