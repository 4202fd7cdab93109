"""Reception's tasks from the overdue ladder, done from the console: a recorded fact on the
visit (who, when, a note), shown on the task and in the visit's timeline.

'If contact is not possible, Reception staff will attempt to contact the Pupil's home.'
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from service.clock import FakeClock
from service.config import Settings
from service.wiring import Container, create_app
from tests.console_world import a_reception_task, settle, with_every_role
from tests.harness import service_in_process
from tests.visit_worlds import at

Client = TestClient[Any, Any]
NOTE = "spoke to parent, visitor left 10 min ago"


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[tuple[Client, Container]]:
    clock = FakeClock(at(14, 0))
    async with service_in_process(
        Settings(database_url=sqlite_url), clock=clock, with_mqtt=False
    ) as c:
        with_every_role(c.app)
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        yield await aiohttp_client(app), c


def as_(c: Container, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {c.app.issue_token(user)}"}


async def overdue(c: Container) -> str:
    assert isinstance(c.clock, FakeClock)
    return await asyncio.to_thread(a_reception_task, c, c.clock)


async def test_reception_marks_ringing_home_done_with_a_note_and_the_timeline_says_who(
    api: tuple[Client, Container],
) -> None:
    client, c = api
    task = await overdue(c)
    reception = as_(c, "reception1")
    listed = await (await client.get("/api/v1/tasks?state=open", headers=reception)).json()
    assert [t["id"] for t in listed["tasks"]] == [task]
    assert listed["tasks"][0]["staff_names"] == ["Sam Jones"]

    done = await client.post(f"/api/v1/tasks/{task}/done", json={"note": NOTE}, headers=reception)
    assert done.status == 200, await done.text()
    doc = await done.json()
    assert (doc["state"], doc["done_by"], doc["note"]) == ("done", "operator:reception1", NOTE)
    assert doc["closed_at"] == c.clock.now().isoformat()
    still_open = await (await client.get("/api/v1/tasks?state=open", headers=reception)).json()
    assert still_open["tasks"] == []

    visit = doc["visit"]
    record = await (await client.get(f"/api/v1/timeline?visit={visit}", headers=reception)).json()
    said = [e["summary"] for e in record["events"]]
    assert f"reception's call to the pupil's home done by operator:reception1: {NOTE}" in said, said


async def test_done_twice_by_the_same_person_is_one_event_and_anyone_else_hears_who(
    api: tuple[Client, Container],
) -> None:
    client, c = api
    task = await overdue(c)
    first = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "reception1"))
    again = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "reception1"))
    assert (first.status, again.status) == (200, 200)
    visit = (await first.json())["visit"]
    events = [type(e).__qualname__ for e in c.app.events.get(UUID(visit))]
    assert events.count("Visit.TaskCompleted") == 1
    other = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "dsl1"))
    assert other.status == 409
    assert "already done by operator:reception1" in (await other.json())["detail"]


async def test_a_task_the_visitor_made_unnecessary_is_refused_with_409(
    api: tuple[Client, Container],
) -> None:
    client, c = api
    task = await overdue(c)
    await asyncio.to_thread(
        c.app.receive_sms, sender="+447700900001", body="OK sorry", message_sid="SM1"
    )
    await asyncio.to_thread(settle, c)
    refused = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "reception1"))
    assert refused.status == 409
    assert "no longer needed" in (await refused.json())["detail"]


async def test_unknown_and_foreign_tasks_are_not_found(api: tuple[Client, Container]) -> None:
    client, c = api
    task = await overdue(c)
    for path in ("/api/v1/tasks/nonsense/done", f"/api/v1/tasks/{task[:-1]}9/done"):
        response = await client.post(path, headers=as_(c, "reception1"))
        assert response.status == 404, path
    theirs = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "kreception"))
    assert theirs.status == 404
    listed = await (await client.get("/api/v1/tasks", headers=as_(c, "kreception"))).json()
    assert listed["tasks"] == []
