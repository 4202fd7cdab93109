"""An alert's record follows the visit records' rule (issue 16): what a visitor wrote, and
the pupil's reference, are for the DSL, the headteacher, an admin and the visitors;
reception and the contact centre read everything that answers the alarm.

King's Academy: "Information gathered during the visit must be treated confidentially and
shared only with authorised personnel in line with safeguarding protocols." A visitor's
text can name a pupil ("at UPN-0042's house"): reception must not read it in the alert's
replay, and may not print the record at all; the DSL reads and prints it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.container import Container
from service.domain.people.confidentiality import WITHHELD
from tests.console_world import devices
from tests.trust_api import Api, Client, as_, text, texting, trust_api

SAM = "+447700900001"  # s-jones, whose safe word is Bluebird (tests/worlds.py)
WORDS = "at UPN-0042's house, all fine bluebird"
STORED = "at UPN-0042's house, all fine [redacted]"


@pytest.fixture
async def texted(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, texting(database_url), every_role=True) as it:
        yield it


async def a_duress_by_text(client: Client, c: Container) -> str:
    response = await text(client, SAM, WORDS, "SM-confid-1")
    assert response.status == 200, await response.text()
    await asyncio.to_thread(c.projector.catch_up)
    [alert] = c.views.find("alert")
    assert alert["kind"] == "duress"
    return str(alert["id"])


async def the_replay(client: Client, c: Container, user: str, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/timeline?alert={alert_id}", headers=as_(c, user))
    assert response.status == 200, await response.text()
    record: dict[str, Any] = await response.json()
    return record


async def test_reception_replays_the_alert_without_the_visitors_words(texted: Api) -> None:
    client, c = texted
    alert_id = await a_duress_by_text(client, c)
    record = await the_replay(client, c, "reception1", alert_id)
    seen = json.dumps(record)
    assert "UPN-0042" not in seen and "all fine" not in seen
    summaries = [row["summary"] for row in record["events"]]
    assert f'text received: "{WITHHELD}"' in summaries, summaries
    assert any(s.startswith(f'reply sent by text: "{WITHHELD}"') for s in summaries), summaries
    # What answers the alarm is all there: who, what kind, who has been told.
    assert record["state"]["alert"]["staff"] == "s-jones"
    assert record["state"]["alert"]["kind"] == "duress"
    assert any(s.startswith("text to ") for s in summaries), summaries
    assert "the DSL, the headteacher and the visitors" in record["withheld"]


@pytest.mark.parametrize("user", ["dsl1", "head1", "admin1"])
async def test_the_safeguarding_leads_replay_the_visitors_words(texted: Api, user: str) -> None:
    client, c = texted
    alert_id = await a_duress_by_text(client, c)
    record = await the_replay(client, c, user, alert_id)
    summaries = [row["summary"] for row in record["events"]]
    assert f'text received: "{STORED}"' in summaries, summaries
    assert "withheld" not in record


async def test_reception_may_not_print_the_record_and_is_told_why(texted: Api) -> None:
    client, c = texted
    alert_id = await a_duress_by_text(client, c)
    for fmt in ("html", "json"):
        response = await client.get(
            f"/api/v1/timeline/export?alert={alert_id}&format={fmt}",
            headers=as_(c, "reception1"),
        )
        assert response.status == 403
        assert response.content_type == "application/problem+json"
        detail = (await response.json())["detail"]
        assert "only the DSL, the headteacher or an admin may print" in detail, detail
        assert "your role: contact centre" in detail and "Ask your DSL" in detail, detail
    printed = await client.get(
        f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=as_(c, "dsl1")
    )
    assert printed.status == 200 and "UPN-0042" in await printed.text()


async def test_the_live_alert_still_tells_reception_what_answers_it(texted: Api) -> None:
    """Nothing that makes an alarm answerable is withheld: the feed's alert is whole."""
    client, c = texted
    alert_id = await a_duress_by_text(client, c)
    response = await client.get(f"/api/v1/alerts/{alert_id}", headers=as_(c, "reception1"))
    assert response.status == 200
    alert = await response.json()
    assert alert["staff"] == "s-jones" and alert["staff_phone"] == SAM
    assert WITHHELD not in json.dumps(alert)


async def test_a_record_with_nothing_withheld_says_nothing_is(texted: Api) -> None:
    """An SOS pressed on no visit holds no visitor's words: reception reads it whole, with
    no line saying something was withheld (a gap that is not there is not announced)."""
    client, c = texted
    recorded = await asyncio.to_thread(devices(c).press, "sos-0001", "m-confid")
    await asyncio.to_thread(c.projector.catch_up)
    record = await the_replay(client, c, "reception1", str(recorded.alert_id))
    assert WITHHELD not in json.dumps(record) and "withheld" not in record
