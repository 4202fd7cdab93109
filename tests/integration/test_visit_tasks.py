"""Reception's tasks from the overdue ladder, done from the console: a recorded fact on the
visit (who, when, a note), shown on the task and in the visit's timeline.

'If contact is not possible, Reception staff will attempt to contact the Pupil's home.'
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.console_world import a_reception_task, settle
from tests.harness import eventually
from tests.trust_api import Api, Client, as_, trust_api
from tests.visit_worlds import at

NOTE = "spoke to parent, visitor left 10 min ago"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings, clock = Settings(database_url=sqlite_url), FakeClock(at(14, 0))
    async with trust_api(aiohttp_client, settings, clock=clock, every_role=True) as it:
        yield it


async def overdue(c: Container) -> str:
    assert isinstance(c.clock, FakeClock)
    return await asyncio.to_thread(a_reception_task, c, c.clock)


async def test_reception_marks_ringing_home_done_with_a_note_and_the_timeline_says_who(
    api: Api,
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
    assert (
        f"reception's call to the pupil's home done by reception1 (contact centre): {NOTE}" in said
    ), said


async def test_done_twice_by_the_same_person_is_one_event_and_anyone_else_hears_who(
    api: Api,
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
    assert "already done by reception1 (contact centre)" in (await other.json())["detail"]


async def test_a_task_the_visitor_made_unnecessary_is_refused_with_409(api: Api) -> None:
    client, c = api
    task = await overdue(c)
    await asyncio.to_thread(
        c.app.receive_sms, sender="+447700900001", body="OK sorry", message_sid="SM1"
    )
    await asyncio.to_thread(settle, c)
    refused = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "reception1"))
    assert refused.status == 409
    assert "no longer needed" in (await refused.json())["detail"]


async def test_unknown_and_foreign_tasks_are_not_found(api: Api) -> None:
    client, c = api
    task = await overdue(c)
    for path in ("/api/v1/tasks/nonsense/done", f"/api/v1/tasks/{task[:-1]}9/done"):
        response = await client.post(path, headers=as_(c, "reception1"))
        assert response.status == 404, path
    theirs = await client.post(f"/api/v1/tasks/{task}/done", headers=as_(c, "kreception"))
    assert theirs.status == 404
    listed = await (await client.get("/api/v1/tasks", headers=as_(c, "kreception"))).json()
    assert listed["tasks"] == []


# -- what reception found decides whether SLT is told ---------------------------------

SLT = "+441702000013"


async def slt_step(c: Container, task: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ten minutes on (the school's inform_slt step): what SLT were sent, and the step."""
    assert isinstance(c.clock, FakeClock)
    c.clock.advance(timedelta(minutes=10))
    await asyncio.to_thread(settle, c)
    visit = UUID(task.split(":")[1])

    def board_at_slt_step() -> dict[str, Any] | None:
        # The running service's own scheduler may have fired the step first: its commit
        # can land just after `settle` returns, so wait for the board to show it.
        c.projector.catch_up()
        doc = c.views.get("visit", str(visit)) or {}
        step = doc.get("overdue_step") or {}
        return doc if step.get("action") == "inform_slt" else None

    board = await eventually(board_at_slt_step, what="the ladder's inform_slt step")
    told = [
        n
        for n in c.views.find("notification", limit=10_000)
        if n["to"] == SLT and n["step"].startswith("overdue:inform_slt")
    ]
    return told, board["overdue_step"]


async def timeline_of(client: Client, c: Container, task: str) -> list[str]:
    visit = task.split(":")[1]
    record = await (
        await client.get(f"/api/v1/timeline?visit={visit}", headers=as_(c, "dsl1"))
    ).json()
    return [e["summary"] for e in record["events"]]


async def test_slt_are_not_told_when_reception_reached_the_home_and_found_no_concern(
    api: Api,
) -> None:
    """Policy 003: 'If contact has not been made or there is any cause for concern, a member
    of SLT will be informed.' Reception reached the home and found no concern: the inform_slt
    step is recorded, with who decided and when, and SLT are not texted."""
    client, c = api
    task = await overdue(c)
    reported_at = c.clock.now()
    done = await client.post(
        f"/api/v1/tasks/{task}/done",
        json={"note": NOTE, "outcome": "contact_made_no_concern"},
        headers=as_(c, "reception1"),
    )
    assert done.status == 200, await done.text()
    assert (await done.json())["outcome"] == "contact_made_no_concern"

    told, step = await slt_step(c, task)
    assert told == []
    assert step["decision"] == {
        "inform": False,
        "because": "reception reached the home and found no cause for concern",
        "reported_by": "operator:reception1",
        "reported_at": reported_at.isoformat(),
    }
    said = await timeline_of(client, c, task)
    assert (
        "reception's call to the pupil's home done by reception1 (contact centre) "
        f"(reached the home, no concern): {NOTE}"
    ) in said
    assert (
        "overdue step 3: senior leaders are told if need be - SLT not informed: reception reached the home and found "
        "no cause for concern (reported by reception1 (contact centre) at "
        f"{reported_at.astimezone(LONDON):%H:%M %Z})"  # the school's clock and zone
    ) in said, said
    [alert] = [a for a in c.views.find("alert") if a["kind"] == "overdue"]
    assert alert["state"] != "resolved", "the visitor is still not accounted for"


@pytest.mark.parametrize(
    ("outcome", "because"),
    [
        ("no_contact", "reception could not make contact with the home"),
        ("concern", "reception reported a cause for concern"),
        (None, "reception marked the call done without saying whether contact was made"),
    ],
)
async def test_slt_are_told_when_reception_made_no_contact_or_found_a_concern(
    api: Api, outcome: str | None, because: str
) -> None:
    """Policy 003: 'If contact has not been made or there is any cause for concern, a member
    of SLT will be informed.'"""
    client, c = api
    task = await overdue(c)
    body = {"note": "rang twice"} | ({"outcome": outcome} if outcome else {})
    done = await client.post(f"/api/v1/tasks/{task}/done", json=body, headers=as_(c, "reception1"))
    assert done.status == 200, await done.text()

    told, step = await slt_step(c, task)
    assert [n["contact"] for n in told] == ["slt-1"]
    assert "no contact made" in told[0]["body"]
    assert (step["decision"]["inform"], step["decision"]["because"]) == (True, because)
    assert step["decision"]["reported_by"] == "operator:reception1"


async def test_slt_are_told_when_reception_has_not_reported_by_then(api: Api) -> None:
    """Policy 003: 'If contact has not been made or there is any cause for concern, a member
    of SLT will be informed.' No word from reception is no contact: the ladder goes on."""
    client, c = api
    task = await overdue(c)
    told, step = await slt_step(c, task)
    assert [n["contact"] for n in told] == ["slt-1"]
    assert step["decision"] == {
        "inform": True,
        "because": "reception had not reported reaching the pupil's home by then",
        "reported_by": None,
        "reported_at": None,
    }
    late = await client.post(
        f"/api/v1/tasks/{task}/done",
        json={"outcome": "contact_made_no_concern"},
        headers=as_(c, "reception1"),
    )
    assert late.status == 200  # still recorded: SLT already know, and can read it
    assert "SLT informed: reception had not reported" in " ".join(
        await timeline_of(client, c, task)
    )


async def test_an_outcome_that_is_not_one_of_the_choices_is_refused_and_records_nothing(
    api: Api,
) -> None:
    client, c = api
    task = await overdue(c)
    bad = await client.post(
        f"/api/v1/tasks/{task}/done", json={"outcome": "fine"}, headers=as_(c, "reception1")
    )
    assert bad.status == 400
    assert "contact_made_no_concern, no_contact, concern" in (await bad.json())["detail"]
    events = [type(e).__qualname__ for e in c.app.events.get(UUID(task.split(":")[1]))]
    assert "Visit.TaskCompleted" not in events


async def test_the_same_person_cannot_change_the_outcome_afterwards(api: Api) -> None:
    """A second Done with another outcome is refused: the record keeps what was first said."""
    client, c = api
    task = await overdue(c)
    reception = as_(c, "reception1")
    first = await client.post(
        f"/api/v1/tasks/{task}/done", json={"outcome": "no_contact"}, headers=reception
    )
    assert first.status == 200
    again = await client.post(
        f"/api/v1/tasks/{task}/done", json={"outcome": "no_contact"}, headers=reception
    )
    assert again.status == 200
    changed = await client.post(
        f"/api/v1/tasks/{task}/done", json={"outcome": "contact_made_no_concern"}, headers=reception
    )
    assert changed.status == 409
    assert "with no_contact" in (await changed.json())["detail"]
