"""Each school's visit policy through the JSON API, with a real HTTP client, over the demo
directory: Lancaster configured like the SEN Trust Southend policy, Kingsdown like
Cottenham Village College's. What the API says is missing is what the policy says; every
decision reaches the visit's timeline with who made it and why."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.adapters.directory_file import load_directory
from service.clock import FakeClock
from service.config import Settings
from tests.harness import REPO
from tests.trust_api import DEMO_DIRECTORY as DEMO
from tests.trust_api import Api, a_plan, act, as_, trust_api
from tests.visit_worlds import MONDAY


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=DEMO) as it:
        yield it


async def test_lancaster_has_single_or_pair_decided_by_a_lead_and_the_visitor_signs(
    api: Api,
) -> None:
    """SEN Trust: "Discuss with the Headteacher, DSL (where appropriate) and/or relevant
    Senior Leader whether the visit should be made by a single member of staff or if an
    additional person is required"; "Obtain formal approval from the relevant member of
    staff, usually the Headteacher but may be a member of SLT or DSL"; "I have read and
    understand the Lone Working Risk Assessment." """
    client, c = api
    dsl, head, slt, sam = (as_(c, u) for u in ("dsl1", "head1", "slt1", "s-jones"))
    planned = await client.post("/api/v1/visits", json=a_plan("lancaster", "s-jones"), headers=dsl)
    assert planned.status == 201, await planned.text()
    visit = await planned.json()
    policy = visit["policy"]
    assert policy["authorised_by"] == ["headteacher", "slt", "dsl"]
    assert policy["missing_before_authorisation"] == [
        "the decision, with the headteacher, a member of the senior leadership team (SLT) or "
        "the designated safeguarding lead (DSL), whether the visit is made by a single member "
        "of staff or an additional person is required, and why",
        "each visitor confirms: \u201cI have read and understand the Community Lone Working Risk "
        "Assessment for this visit.\u201d (waiting for Sam Jones)",
    ]
    refused = await act(client, visit["id"], "authorise", head)
    assert refused.status == 422, await refused.text()
    assert "the decision, with the headteacher" in (await refused.json())["detail"]

    not_theirs = await act(client, visit["id"], "decide", sam, decision="single", reason="easy")
    assert "ask them to record it" in (await not_theirs.json())["detail"]
    decided = await act(
        client, visit["id"], "decide", slt, decision="single", reason="known family, work drop-off"
    )
    assert decided.status == 200, await decided.text()
    # The board names the person as the audit trail and the record do, never `slt:slt1`.
    check = next(c for c in (await decided.json())["policy"]["checks"] if c["rule"] == "pairs")
    assert check["done"].startswith("single member of staff decided by slt1 (SLT) at "), check
    c.projector.catch_up()  # the board reads the views, which the live loop may not have moved yet
    board = await (await client.get("/api/v1/visits", headers=dsl)).json()
    shown = next(v for v in board["visits"] if v["id"] == visit["id"])
    assert "slt:slt1" not in str(shown["policy"]["checks"])
    assert shown["people"]["slt:slt1"] == "slt1 (SLT)"
    signed = await act(client, visit["id"], "confirm", sam, what="risk_assessment")
    assert (await signed.json())["policy"]["missing_before_authorisation"] == []

    authorised = await act(client, visit["id"], "authorise", slt)
    assert authorised.status == 200, await authorised.text()
    assert (await authorised.json())["authorised_by"] == "slt:slt1"

    c.projector.catch_up()
    timeline = await client.get(f"/api/v1/timeline?visit={visit['id']}", headers=dsl)
    said = [e["summary"] for e in (await timeline.json())["events"]]
    assert "a single member of staff decided by slt1 (SLT): known family, work drop-off" in said
    assert (
        "Sam Jones confirmed: \u201cI have read and understand the Community Lone Working Risk "
        "Assessment for this visit.\u201d" in said
    )
    assert any(s.startswith("school's visit policy met before authorising: ") for s in said)


async def test_kingsdown_is_authorised_by_the_safeguarding_officer_once_parents_are_told(
    api: Api,
) -> None:
    """Cottenham: "ALL HOME VISITS CONDUCTED BY STAFF MUST BE AUTHORISED BY THE SAFEGUARDING
    OFFICER. In addition, wherever possible parents/carers should be informed of the home
    visit prior to arrival"; "Where possible, home visits should be conducted in pairs." """
    client, c = api
    kdsl = as_(c, "kdsl")
    planned = await client.post("/api/v1/visits", json=a_plan("kingsdown", "k-smith"), headers=kdsl)
    visit = await planned.json()
    assert visit["policy"]["authorised_by_words"] == "the designated safeguarding lead (DSL)"
    assert len(visit["policy"]["missing_before_authorisation"]) == 2
    bad = await act(client, visit["id"], "parents", kdsl, informed="yes")
    assert bad.status == 400
    await act(
        client, visit["id"], "parents", kdsl, informed=False, note="not answering; welfare check"
    )
    await act(client, visit["id"], "decide", kdsl, decision="single", reason="no one free")
    authorised = await act(client, visit["id"], "authorise", kdsl)
    assert authorised.status == 200, await authorised.text()
    c.projector.catch_up()
    board = await client.get("/api/v1/visits?school=kingsdown", headers=kdsl)
    (doc,) = (await board.json())["visits"]
    assert doc["policy"]["missing_before_authorisation"] == []
    assert doc["before"]["parents"]["note"] == "not answering; welfare check"


async def test_the_policy_sheet_shows_each_schools_rules_in_its_policys_words(api: Api) -> None:
    client, c = api
    mine = await client.get("/api/v1/policy", headers=as_(c, "head1"))
    (lancaster,) = (await mine.json())["schools"]
    rules = {r["rule"]: r for r in lancaster["rules"]}
    assert rules["authorised_by"]["words"].startswith("Obtain formal approval")
    assert rules["parents_informed"]["on"] is False
    every = await client.get("/api/v1/policy", headers=as_(c, "admin1"))
    assert [s["school"] for s in (await every.json())["schools"]] == ["kingsdown", "lancaster"]
    other = await client.get("/api/v1/policy?school=kingsdown", headers=as_(c, "head1"))
    assert other.status == 404


def documented(name: str, language: str = "json") -> str:
    """A block of docs/visits.md, by its marker: the docs say exactly what is tested."""
    text = (REPO / "docs" / "visits.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name} -->\s*```{language}\n(.*?)```", text, re.S)
    assert found, f"docs/visits.md lost its {name} block"
    return found.group(1)


@pytest.fixture
async def documented_api(
    sqlite_url: str, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[Api]:
    directory = tmp_path / "directory.yaml"
    directory.write_text(documented("visit-policy-directory", "yaml"), encoding="utf-8")
    settings = Settings(database_url=sqlite_url)
    async with trust_api(
        aiohttp_client, settings, clock=FakeClock(MONDAY), directory=directory
    ) as it:
        yield it


async def test_the_documented_directory_and_bodies_work_as_written(documented_api: Api) -> None:
    """William Lilley: "They are accompanied on the home visit either with another member of
    the William Lilley staff team or professional from another agency"; "Staff must carry a
    mobile phone on their visit"."""
    client, c = documented_api
    lead, lee = as_(c, "ldsl"), as_(c, "l-green")
    planned = await client.post("/api/v1/visits", json=a_plan("lilley", "l-green"), headers=lead)
    visit = (await planned.json())["id"]
    bodies = {
        name: json.loads(documented(f"visit-{name}-body"))
        for name in ("companion", "decide", "parents", "confirm")
    }
    for action, who in (("companion", lead), ("decide", lead), ("parents", lead)):
        answer = await act(client, visit, action, who, **bodies[action])
        assert answer.status == 200, (action, await answer.text())
    before = (await answer.json())["policy"]
    assert before["missing_before_authorisation"] == []
    assert before["missing_before_departure"] == [
        "each visitor confirms: \u201cI am carrying a charged mobile phone on this visit.\u201d "
        "(waiting for Lee Green)"
    ]
    assert (await act(client, visit, "authorise", lead)).status == 200
    confirmed = await act(client, visit, "confirm", lee, **bodies["confirm"])
    assert (await confirmed.json())["policy"]["missing_before_departure"] == []
    c.projector.catch_up()
    timeline = await client.get(f"/api/v1/timeline?visit={visit}", headers=lead)
    said = [e["summary"] for e in (await timeline.json())["events"]]
    assert (
        "companion named by ldsl (DSL): Pat Rowe (Nottingham Children's Services, +447700900123)"
        in said
    )
    assert (
        "an additional person decided by ldsl (DSL): father was hostile at the last visit" in said
    )


async def test_the_board_reads_the_schools_policy_as_the_directory_has_it_now(api: Api) -> None:
    """A headteacher who corrects the directory sees the board follow at once."""
    client, c = api
    kdsl = as_(c, "kdsl")
    planned = await client.post("/api/v1/visits", json=a_plan("kingsdown", "k-smith"), headers=kdsl)
    assert len((await planned.json())["policy"]["missing_before_authorisation"]) == 2
    directory = load_directory(DEMO)
    relaxed = [
        dataclasses.replace(s, policy={k: v for k, v in s.policy.items() if k != "visits"})
        if s.id == "kingsdown"
        else s
        for s in directory.schools
    ]
    c.app.import_directory(dataclasses.replace(directory, schools=tuple(relaxed)))
    c.projector.catch_up()
    board = await client.get("/api/v1/visits?school=kingsdown", headers=kdsl)
    (doc,) = (await board.json())["visits"]
    assert doc["policy"]["missing_before_authorisation"] == []
    assert doc["policy"]["authorised_by"] == ["headteacher", "dsl"]


async def test_a_pair_out_is_shown_the_instruction_to_stay_in_sight_of_the_property(
    api: Api,
) -> None:
    """Cottenham: "Consider whether sending out two members of staff may escalate the
    difficulties. If so, the second member of staff should remain in sight of the property
    should there be the need for increased support." """
    client, c = api
    kdsl = as_(c, "kdsl")
    plan = {**a_plan("kingsdown", "k-smith"), "staff": ["k-smith", "k-brown"]}
    visit = (await (await client.post("/api/v1/visits", json=plan, headers=kdsl)).json())["id"]
    await act(client, visit, "parents", kdsl, informed=True, note="letter and a call")
    for action in ("authorise", "depart"):
        answer = await act(client, visit, action, kdsl)
        assert answer.status == 200, await answer.text()
    c.projector.catch_up()
    board = await client.get("/api/v1/visits?state=out", headers=kdsl)
    (doc,) = (await board.json())["visits"]
    assert doc["instructions"] == [
        "Consider whether sending out two members of staff may escalate the difficulties. If "
        "so, the second member of staff should remain in sight of the property should there be "
        "the need for increased support."
    ]
