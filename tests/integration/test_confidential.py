"""Confidential by role (issue 16). SEN Trust: safeguarding notes "will only be shared with
the relevant senior leaders"; a pupil's reference is for them, the visitors, and reception
while it must ring the pupil's home. Every read of a visit or an alert is recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.bootstrap import Container
from service.clock import FakeClock
from service.config import Settings
from service.domain.people.access import Principal
from service.domain.people.confidentiality import WITHHELD, withheld
from service.domain.people.directory import Role
from service.entrypoints.http.confidential import calling_home, shown, worded
from service.records.audit import audit_trail
from tests.console_world import devices
from tests.harness import eventually, sse_events
from tests.trust_api import Api, Client, a_plan, act, as_, trust_api
from tests.visit_worlds import MONDAY
from tests.visit_worlds import VISITS_DIRECTORY as VISITS

PUPIL = "UPN-4471"
NOTES = "Mother said the boy had not eaten since Friday."


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=VISITS) as it:
        yield it


async def a_reported_visit(client: Client, c: Container) -> str:
    """A lone visit by s-jones, reported with a safeguarding concern and notes."""
    staff, dsl = as_(c, "s-jones"), as_(c, "dsl1")
    plan = a_plan(pupil_ref=PUPIL, purpose="safe_and_well")
    planned = await client.post("/api/v1/visits", json=plan, headers=dsl)
    assert planned.status == 201, await planned.text()
    vid = str((await planned.json())["id"])

    async def done(action: str, who: dict[str, str], **body: Any) -> None:
        response = await act(client, vid, action, who, **body)
        assert response.status == 200, (action, await response.text())

    await done("authorise", dsl)
    await asyncio.to_thread(devices(c).heartbeat, "sos-0001", 90)
    await asyncio.to_thread(c.projector.catch_up)
    for action in ("depart", "arrive", "leave", "return"):
        await done(action, staff)
    await done("report", staff, outcome="completed", notes=NOTES, safeguarding_concern=True)
    await asyncio.to_thread(c.projector.catch_up)
    return vid


async def everything_read_by(client: Client, who: dict[str, str], vid: str) -> str:
    read = [
        await client.get(f"/api/v1/visits/{vid}", headers=who),
        await client.get("/api/v1/visits", headers=who),
    ]
    timeline = await client.get(f"/api/v1/timeline?visit={vid}", headers=who)
    if timeline.status != 403:  # staff read their visits, not timelines
        read.append(timeline)
    assert {r.status for r in read} == {200}
    return json.dumps([await r.json() for r in read])


async def test_reception_reads_neither_the_pupils_reference_nor_the_notes(api: Api) -> None:
    client, c = api
    vid = await a_reported_visit(client, c)
    seen = await everything_read_by(client, as_(c, "reception1"), vid)
    assert PUPIL not in seen and NOTES not in seen
    assert "Planned" in seen or "planned" in seen  # the timeline itself was read
    visit = await (await client.get(f"/api/v1/visits/{vid}", headers=as_(c, "reception1"))).json()
    assert visit["pupil_ref"] == WITHHELD and visit["report"] == WITHHELD
    assert visit["address"] == "12 Mountdale Gardens, Leigh-on-Sea"  # where to send help


@pytest.mark.parametrize("user", ["dsl1", "head1", "s-jones"])
async def test_the_senior_leaders_and_the_visitor_read_them(api: Api, user: str) -> None:
    client, c = api
    vid = await a_reported_visit(client, c)
    seen = await everything_read_by(client, as_(c, user), vid)
    assert PUPIL in seen and NOTES in seen


async def test_each_read_of_a_visit_or_an_alert_is_recorded(api: Api) -> None:
    client, c = api
    vid = await a_reported_visit(client, c)
    reception = as_(c, "reception1")
    assert (await client.get(f"/api/v1/visits/{vid}", headers=reception)).status == 200
    recorded = await asyncio.to_thread(devices(c).press, "sos-0001", "m-1")
    await asyncio.to_thread(c.projector.catch_up)
    alert = await client.get(f"/api/v1/alerts/{recorded.alert_id}", headers=reception)
    assert alert.status == 200
    await asyncio.to_thread(c.projector.catch_up)
    trail = await asyncio.to_thread(audit_trail, c.views, None)
    reads = [(e.get("actor"), e.get("subject"), e.get("action")) for e in trail]
    assert ("operator:reception1", f"visit:{vid}", "visit") in reads
    assert ("operator:reception1", f"alert:{recorded.alert_id}", "alert") in reads


def test_reception_reads_the_reference_while_it_must_ring_the_home() -> None:
    reception = Principal(username="reception1", school="lancaster", role=Role.OPERATOR)
    visit: dict[str, Any] = {
        "staff": ["s-jones"],
        "pupil_ref": PUPIL,
        "overdue": True,
        "ladder_steps": [{"do": "contact_staff"}, {"do": "reception_calls_home"}],
        "steps_taken": [0],
        "note": f"overdue from pupil {PUPIL}'s home",
    }
    assert not calling_home(visit)
    assert shown(reception, visit)["note"] == f"overdue from pupil {WITHHELD}'s home"
    # The console's words are made from what the reader may see, never from the record.
    assert worded(reception, visit)["note_words"] == f"overdue from pupil {WITHHELD}'s home"
    visit["steps_taken"] = [0, 1]
    assert calling_home(visit) and shown(reception, visit) == visit


def test_a_reference_is_withheld_as_a_whole_word_only() -> None:
    value = {"text": "pupil UPN-12, not UPN-123 nor XUPN-12", "pupil_ref": "UPN-12"}
    assert withheld(value, ["UPN-12"], {"pupil_ref"}) == {
        "text": f"pupil {WITHHELD}, not UPN-123 nor XUPN-12",
        "pupil_ref": WITHHELD,
    }


async def test_the_live_stream_withholds_them_from_reception(api: Api) -> None:
    client, c = api
    stream = await client.get("/api/v1/stream", headers=as_(c, "reception1"))
    assert stream.status == 200
    received: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        async for pair in sse_events(stream.content):
            received.append(pair)

    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: any(e == "hello" for e, _ in received), what="stream hello")
        vid = await a_reported_visit(client, c)
        await eventually(
            lambda: any(e == "visit" and d.get("state") == "reported" for e, d in received),
            what="the reported visit on the stream",
        )
    finally:
        reader.cancel()
    visits = [d for e, d in received if e == "visit" and d["id"] == vid]
    assert visits and all(d["pupil_ref"] == WITHHELD for d in visits)
    assert PUPIL not in json.dumps(received) and NOTES not in json.dumps(received)


async def test_a_list_that_names_people_is_in_the_audit_trail_once_per_person_per_window(
    api: Api,
) -> None:
    """'Every read of a visit, alert or record that holds personal data audited': a list
    too, but once per person and list in a window, not at every 30 s poll of the board."""
    client, c = api
    await a_reported_visit(client, c)
    dsl, reception = as_(c, "dsl1"), as_(c, "reception1")
    for _ in range(3):
        assert (await client.get("/api/v1/visits", headers=dsl)).status == 200
    assert (await client.get("/api/v1/visits", headers=reception)).status == 200
    assert (await client.get("/api/v1/alerts?state=open", headers=dsl)).status == 200
    assert (await client.get("/api/v1/visits/history?staff=jones", headers=dsl)).status == 200

    def lists() -> list[tuple[str, str, str]]:
        c.projector.catch_up()
        return sorted(
            (a["actor"], a["subject"], a["detail"])
            for a in audit_trail(c.views, None)
            if a["action"] == "list"
        )

    seen = await eventually(lambda: len(lists()) >= 4 and lists(), what="the list reads")
    assert seen == [
        ("dsl:dsl1", "list:/api/v1/alerts", "0 shown; state=open"),
        ("dsl:dsl1", "list:/api/v1/visits", "1 shown"),
        ("dsl:dsl1", "list:/api/v1/visits/history", "1 shown; staff=jones"),
        ("operator:reception1", "list:/api/v1/visits", "1 shown"),
    ]
