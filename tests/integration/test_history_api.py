"""Past alerts and visits searched over the real app: by person, dates, kind, state and
outcome, a page at a time, each refusal a problem that says what to send.

The alerts are raised by device presses through the production intake, taken and resolved
over the API; the visits planned, authorised and sent out through the use cases; the overdue
ladder run by the scheduler on a fake clock. On SQLite and PostgreSQL (the SQL differs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from service.application import visits
from service.bootstrap import Container
from service.clock import FakeClock
from service.config import Settings
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from tests.console_world import a_reception_task, a_visit_authorised, an_sos
from tests.trust_api import Api, Client, as_, trust_api
from tests.visit_worlds import at


@pytest.fixture
async def api(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings, clock = Settings(database_url=database_url), FakeClock(at(9, 0))
    async with trust_api(aiohttp_client, settings, clock=clock, every_role=True) as it:
        yield it


async def _get(client: Client, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = await client.get(path, headers=headers)
    body = await response.json(content_type=None)
    assert response.status == status, body
    return body


async def _resolve(client: Client, c: Container, alert: str, outcome: str) -> None:
    response = await client.post(
        f"/api/v1/alerts/{alert}/resolve",
        headers=as_(c, "reception1"),
        json={"outcome": outcome, "note": "rang back"},
    )
    assert response.status == 200, await response.text()


async def _past_alerts(client: Client, c: Container) -> dict[str, str]:
    """Monday 09:00 a false alarm from Sam Jones; Tuesday an SOS taken and found safe;
    Wednesday Kim Smith's (Kingsdown) left open; then Sam Jones overdue from a visit."""
    clock = c.clock
    assert isinstance(clock, FakeClock)
    made = {"monday": await an_sos(c.app, c.projector, "hist-1")}
    await _resolve(client, c, made["monday"], "false_alarm")
    clock.advance(timedelta(days=1))
    made["tuesday"] = await an_sos(c.app, c.projector, "hist-2")
    taken = await client.post(
        f"/api/v1/alerts/{made['tuesday']}/acknowledge", headers=as_(c, "reception1")
    )
    assert taken.status == 200
    await _resolve(client, c, made["tuesday"], "safe")
    clock.advance(timedelta(days=1))
    made["kingsdown"] = await an_sos(c.app, c.projector, "hist-3", device="sos-0002")
    await asyncio.to_thread(a_reception_task, c, clock, "hist-overdue")
    return made


def _ids(body: dict[str, Any], name: str = "alerts") -> list[str]:
    return [row["id"] for row in body[name]]


async def test_past_alerts_are_found_by_person_dates_kind_and_outcome(api: Any) -> None:
    client, c = api
    made = await _past_alerts(client, c)
    admin, reception = as_(c, "admin1"), as_(c, "reception1")
    history = "/api/v1/alerts/history"

    everything = await _get(client, history, admin)
    assert set(made.values()) <= set(_ids(everything))
    raised = [row["raised_at"] for row in everything["alerts"]]
    assert raised == sorted(raised, reverse=True), "newest first"

    by_kim = await _get(client, f"{history}?staff=k-smith", admin)
    assert _ids(by_kim) == [made["kingsdown"]]
    by_name = await _get(client, f"{history}?staff=SAM", admin)
    assert made["kingsdown"] not in _ids(by_name)
    assert {made["monday"], made["tuesday"]} <= set(_ids(by_name))

    tuesday = at(9, 0).date() + timedelta(days=1)
    one_day = await _get(client, f"{history}?from={tuesday}&to={tuesday}", admin)
    assert _ids(one_day) == [made["tuesday"]]
    unencoded = f"from={tuesday}T00:00:00+00:00&to={tuesday}T23:59:59+00:00"
    assert _ids(await _get(client, f"{history}?{unencoded}", admin)) == [made["tuesday"]]
    row = one_day["alerts"][0]
    assert row["outcome"] == "safe" and row["acknowledged_by"] == "operator:reception1"
    assert row["answered_in_s"] is not None and row["people_told"] >= 1

    false_alarms = await _get(client, f"{history}?outcome=false_alarm", admin)
    assert _ids(false_alarms) == [made["monday"]]
    overdue = await _get(client, f"{history}?kind=overdue", reception)
    assert overdue["alerts"] and all(a["kind"] == "overdue" for a in overdue["alerts"])
    still_open = await _get(client, f"{history}?state=open&kind=sos", admin)
    assert _ids(still_open) == [made["kingsdown"]]

    ours = await _get(client, history, reception)
    assert made["kingsdown"] not in _ids(ours), "another school's alert stays out of sight"


async def test_past_alerts_come_a_page_at_a_time(api: Any) -> None:
    client, c = api
    for n in range(5):  # each resolved before the next press, which would otherwise join it
        alert = await an_sos(c.app, c.projector, f"page-{n}")
        await _resolve(client, c, alert, "safe")
    admin, history = as_(c, "admin1"), "/api/v1/alerts/history?kind=sos"
    first = await _get(client, f"{history}&limit=2", admin)
    second = await _get(client, f"{history}&limit=2&offset=2", admin)
    last = await _get(client, f"{history}&limit=2&offset=4", admin)
    assert (first["next_offset"], second["next_offset"], last["next_offset"]) == (2, 4, None)
    pages = _ids(first) + _ids(second) + _ids(last)
    assert len(pages) == len(set(pages)) == 5


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("kind=bomb", "kind must be one of: sos"),
        ("outcome=fine", "outcome must be one of: safe"),
        ("state=lost", "state must be one of: open"),
        ("from=yesterday", "from must be a date like 2026-11-23"),
        ("to=2026-11-23T10:00:00", "to must be a date like 2026-11-23 or an instant"),
        ("from=2026-11-24&to=2026-11-23", "from must be before to"),
        ("limit=0", "limit must be a whole number from 1 to 200"),
        ("limit=5000", "limit must be a whole number from 1 to 200"),
        ("offset=-1", "offset must be a whole number"),
    ],
)
async def test_alert_search_refusals_say_what_to_send(api: Any, query: str, says: str) -> None:
    client, c = api
    body = await _get(client, f"/api/v1/alerts/history?{query}", as_(c, "dsl1"), status=400)
    assert says in body["detail"]


async def test_staff_may_not_search_past_alerts(api: Any) -> None:
    client, c = api
    body = await _get(client, "/api/v1/alerts/history", as_(c, "teacher1"), status=403)
    assert "a staff cannot search past alerts" in body["detail"]


async def test_past_visits_are_found_by_person_day_state_and_how_far_the_ladder_went(
    api: Any,
) -> None:
    client, c = api
    clock = c.clock
    assert isinstance(clock, FakeClock)
    planned = await asyncio.to_thread(
        a_visit_authorised,
        c,
        "hist-v1",
        "s-jones",
        timedelta(hours=1),
        timedelta(hours=2),
        address="3 Elm Road",
        pupil_ref="UPN-0007",
    )
    monday = str(planned)
    head = Principal("head1", "lancaster", Role.HEADTEACHER)
    await asyncio.to_thread(visits.cancel, c.app, planned, head, "pupil moved")
    await asyncio.to_thread(c.projector.catch_up)
    clock.advance(timedelta(days=1))
    task = await asyncio.to_thread(a_reception_task, c, clock, "hist-v2")
    overdue_visit = task.split(":")[1]  # call_home:{visit}:{episode}
    dsl, history = as_(c, "dsl1"), "/api/v1/visits/history"

    everything = await _get(client, history, dsl)
    assert len(everything["visits"]) == 2
    tuesday = at(9, 0).date() + timedelta(days=1)
    on_tuesday = await _get(client, f"{history}?from={tuesday}&to={tuesday}", dsl)
    assert len(on_tuesday["visits"]) == 1
    went_overdue = on_tuesday["visits"][0]
    assert went_overdue["overdue_since"] is not None
    assert went_overdue["ladder"]["steps_taken"] >= 2, went_overdue["ladder"]
    assert went_overdue["ladder"]["last"] == "reception_calls_home"
    assert went_overdue["id"] == overdue_visit

    assert _ids(await _get(client, f"{history}?overdue=true", dsl), "visits") == [
        went_overdue["id"]
    ]
    assert _ids(await _get(client, f"{history}?state=cancelled", dsl), "visits") == [monday]
    assert len((await _get(client, f"{history}?staff=jones", dsl))["visits"]) == 2
    assert (await _get(client, f"{history}?staff=k-smith", dsl))["visits"] == []
    mine = await _get(client, history, as_(c, "teacher1"))
    assert mine["visits"] == [], "staff see only their own visits"

    wrong = await _get(client, f"{history}?from=2026-11-23T10:00:00Z", dsl, status=400)
    assert "the visit's day" in wrong["detail"]
    wrong = await _get(client, f"{history}?outcome=lovely", dsl, status=400)
    assert "outcome must be one of: completed" in wrong["detail"]
