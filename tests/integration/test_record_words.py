"""The printed record of one incident says what happened in words a serious case review
can use: where the visit was, what became of each message, read at the HTTP boundary."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from service.application import outbox
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.console_world import a_lone_visit_out, a_reception_task, an_sos
from tests.trust_api import Api, Client, as_, text, texting, trust_api

Served = tuple[Client, Container, FakeClock]
ADDRESS = "12 Acacia Road, Leigh-on-Sea SS9 1AA"


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Served]:
    clock = FakeClock()
    settings = Settings(database_url=sqlite_url)
    async with trust_api(aiohttp_client, settings, clock=clock, every_role=True) as (client, c):
        yield client, c, clock


async def _printed(client: Client, c: Container, alert_id: str) -> str:
    await asyncio.to_thread(c.projector.catch_up)
    response = await client.get(
        f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=as_(c, "dsl1")
    )
    assert response.status == 200
    return await response.text()


def _fact(page: str, name: str) -> str:
    found = re.search(rf"<tr><th scope='row'>{name}</th><td>(.*?)</td></tr>", page)
    assert found, page
    return found.group(1)


async def test_an_sos_on_a_visit_prints_where_the_visit_was(api: Served) -> None:
    """The SOS text to staff said 'on a home visit at 12 Acacia Road': so does the record."""
    client, c, _clock = api
    await asyncio.to_thread(
        a_lone_visit_out, c, "visit-1", back_in=timedelta(hours=1), address=ADDRESS
    )
    alert_id = await an_sos(c.app, c.projector, "press-1")
    page = await _printed(client, c, alert_id)
    assert _fact(page, "Address") == ADDRESS


async def _sent(client: Client, c: Container, alert_id: str, *, calls: int = 0) -> dict[str, Any]:
    """The alert's messages once the outbox has handed each to the provider, and at least
    `calls` of them calls (a red alert's calls are requested a step after its texts)."""
    for _ in range(200):
        await asyncio.to_thread(c.projector.catch_up)
        response = await client.get(
            f"/api/v1/timeline/export?alert={alert_id}&format=json", headers=as_(c, "dsl1")
        )
        sent: dict[str, Any] = (await response.json())["state"]["alert"]["notifications"]
        voice = sum(n["channel"] == "voice" for n in sent.values())
        if sent and voice >= calls and all(n["state"] == "sent" for n in sent.values()):
            return sent
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all sent: {sent}")


async def test_who_was_told_gives_each_message_its_final_outcome(api: Served) -> None:
    """A call the provider reported unanswered reads 'no answer', not 'sent'; and the two
    messages to one person say which each was."""
    client, c, _clock = api
    alert_id = await an_sos(c.app, c.projector, "press-2")
    sent = await _sent(client, c, alert_id, calls=2)
    for notification_id, n in sent.items():
        if n["channel"] == "voice":
            await asyncio.to_thread(
                outbox.report_status,
                c.app,
                UUID(notification_id),
                status="no_answer",
                provider_id="CA1",
                answered_by=None,
            )
    page = await _printed(client, c, alert_id)
    told = re.search(r"(?s)<h3>Who was told</h3>(.*?)</ul>", page)
    assert told, page
    rows = re.findall(r"<li>(.*?)</li>", told.group(1))
    assert "Contact centre desk (call to +441702000010, first notice): no answer" in rows, rows
    assert "Contact centre desk (text to +441702000010, first notice): sent" in rows, rows


async def test_the_escalation_steps_are_told_in_plain_words_not_settings_names(
    api: Served,
) -> None:
    """'policy sos: tier 1 (contact_centre)' is a settings file, not a safeguarding record."""
    client, c, _clock = api
    alert_id = await an_sos(c.app, c.projector, "press-3")
    await _sent(client, c, alert_id)
    page = await _printed(client, c, alert_id)
    main = page.partition("<h2>Delivery in full</h2>")[0]
    assert "requested: Escalation plan for an SOS: first the contact centre" in main, main
    for settings_name in ("policy sos", "contact_centre", "renotify_every", "ack_within"):
        assert settings_name not in page, settings_name


async def test_an_overdue_visits_record_says_its_steps_and_purpose_in_plain_words(
    api: Served,
) -> None:
    """'overdue step 2: reception_calls_home' and '(safe_and_well)' are codes, not words; and
    an overdue alert's record does not say 'the overdue policy names no tiers'."""
    client, c, clock = api
    task = await asyncio.to_thread(a_reception_task, c, clock)
    visit = task.split(":")[1]
    dsl = as_(c, "dsl1")
    page = await (
        await client.get(f"/api/v1/timeline/export?visit={visit}&format=html", headers=dsl)
    ).text()
    assert "overdue step 1: the visitor is texted and called" in page, page
    assert "overdue step 2: reception rings the pupil&#x27;s home" in page, page
    assert "contact_staff" not in page and "reception_calls_home" not in page
    alerts = (await (await client.get("/api/v1/alerts", headers=dsl)).json())["alerts"]
    overdue = next(a for a in alerts if a["kind"] == "overdue")
    page = await _printed(client, c, overdue["id"])
    assert "names no tiers" not in page
    assert "escalated by the visit&#x27;s own overdue steps" in page, page


@pytest.fixture
async def texted(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, texting(sqlite_url), every_role=True) as it:
        yield it


async def test_a_duress_record_says_how_it_was_raised_what_was_sent_and_never_the_safe_word(
    texted: Api,
) -> None:
    """The safe word by text raises a silent alert: the record says so, prints what the
    contacts were sent, and never prints the safe word."""
    client, c = texted
    await text(client, "+447700900001", "ok, Bluebird! see you soon", "SM11")
    await asyncio.to_thread(c.projector.catch_up)
    [alert] = c.views.find("alert")
    page = await _printed(client, c, str(alert["id"]))
    assert (
        "duress alert raised: the safe word in a text; silent: nothing was sent to the visitor"
        in page
    ), page
    assert "do not call the visitor" in page and "; it said: &quot;" in page, page
    assert "(a duress alert follows it: the school names no duress plan)" in page, page
    assert "bluebird" not in page.lower()
