"""Whether the reader may authorise a visit, over the JSON API: the board and the visit
answer `authorise` (`may_authorise`, and who may, in words) from the rule that refuses the
authorisation, so a DSL is told before pressing the button that a weekend visit is the
headteacher's. Over the demo directory: Lancaster authorises like the SEN Trust Southend
("usually the Headteacher but may be a member of SLT or DSL"), 08:00-18:00."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.trust_api import DEMO_DIRECTORY as DEMO
from tests.trust_api import Api, Client, a_plan, act, as_, trust_api
from tests.visit_worlds import MONDAY, at

SATURDAY = timedelta(days=5)


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=sqlite_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=DEMO) as it:
        yield it


async def ready_visit(client: Client, c: Container, day: timedelta) -> str:
    """A Lancaster visit with every before-visit check met, `day` after Monday."""
    dsl, sam = as_(c, "dsl1"), as_(c, "s-jones")
    plan = a_plan(start=at(10, 30) + day)
    planned = await client.post("/api/v1/visits", json=plan, headers=dsl)
    assert planned.status == 201, await planned.text()
    vid = str((await planned.json())["id"])
    for who, body in (
        (dsl, {"decision": "single", "reason": "known family"}),
        (sam, {"what": "risk_assessment"}),
    ):
        action = "decide" if "decision" in body else "confirm"
        done = await act(client, vid, action, who, **body)
        assert done.status == 200, await done.text()
    return vid


async def board_entry(client: Client, c: Container, user: str, vid: str) -> dict[str, Any]:
    c.projector.catch_up()
    board = await (await client.get("/api/v1/visits", headers=as_(c, user))).json()
    found: dict[str, Any] = next(v for v in board["visits"] if v["id"] == vid)
    return found


async def test_a_weekend_visit_tells_the_dsl_to_ask_the_headteacher(api: Api) -> None:
    client, c = api
    vid = await ready_visit(client, c, SATURDAY)
    shown = await board_entry(client, c, "dsl1", vid)
    assert shown["policy"]["missing_before_authorisation"] == []
    why = "this visit needs the headteacher's express approval because it is not within one working day"
    assert shown["authorise"] == {
        "may_authorise": False,
        "authorised_by": ["headteacher"],
        "authorised_by_words": "the headteacher (outside school hours)",
        "headteacher_because": "it is not within one working day",
        "why_not": why,
    }
    one = await (await client.get(f"/api/v1/visits/{vid}", headers=as_(c, "dsl1"))).json()
    assert one["authorise"] == shown["authorise"]

    refused = await client.post(f"/api/v1/visits/{vid}/authorise", headers=as_(c, "dsl1"))
    assert refused.status == 422
    assert (await refused.json())["detail"] == why  # the refusal is the answer's words

    head = await board_entry(client, c, "head1", vid)
    assert head["authorise"]["may_authorise"] is True and head["authorise"]["why_not"] is None
    done = await client.post(f"/api/v1/visits/{vid}/authorise", headers=as_(c, "head1"))
    assert done.status == 200, await done.text()
    assert "authorise" not in await done.json()  # no longer planned: nothing to ask
    assert "authorise" not in await board_entry(client, c, "dsl1", vid)


async def test_in_school_hours_the_policy_s_roles_may_and_others_are_told_who(api: Api) -> None:
    client, c = api
    vid = await ready_visit(client, c, timedelta(0))
    for user in ("dsl1", "slt1", "head1"):
        answer = (await board_entry(client, c, user, vid))["authorise"]
        assert answer["may_authorise"] is True, (user, answer)
    staff = (await board_entry(client, c, "s-jones", vid))["authorise"]
    assert staff["may_authorise"] is False
    assert staff["authorised_by_words"] == (
        "the headteacher, a member of the senior leadership team (SLT) or the designated "
        "safeguarding lead (DSL)"
    )
    refused = await client.post(f"/api/v1/visits/{vid}/authorise", headers=as_(c, "s-jones"))
    assert (await refused.json())["detail"] == staff["why_not"]
