"""The DSL's printed record of an alert a visitor's own text raised holds that text (as
stored: the safe word already `[redacted]`) and the reply their phone was sent, read at the
HTTP boundary; a rebuild of the views gives old records the same rows.

"The same code word should be used if you contact school to alert them that you are in
danger and need support." (policy 002): a case review asks what the visitor wrote and what
they were told back; the record said only that the safe word was in a text."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from projections.projector import Projector
from projections.store import ViewStore, open_view_store
from service.container import Container
from service.domain.people.texts import HELP_REPLY
from service.records.timeline import timeline
from tests.console_world import devices
from tests.trust_api import Api, Client, as_, text, texting, trust_api

SAM = "+447700900001"  # s-jones, whose own safe word is Bluebird (tests/worlds.py)


@pytest.fixture
async def texted(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, texting(database_url), every_role=True) as it:
        yield it


async def printed(client: Client, c: Container, alert_id: str) -> str:
    await asyncio.to_thread(c.projector.catch_up)
    response = await client.get(
        f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=as_(c, "dsl1")
    )
    assert response.status == 200, await response.text()
    return html.unescape(await response.text())


async def the_reply(client: Client, body: str, sid: str) -> str:
    """What the visitor's phone was sent back (the TwiML's <Message>)."""
    response = await text(client, SAM, body, sid)
    assert response.status == 200, await response.text()
    twiml = await response.text()
    return html.unescape(twiml.split("<Message>")[1].split("</Message>")[0])


def rebuilt(c: Container, where: Path) -> ViewStore:
    """Views rebuilt from the events into a new store, as a record made before this
    change gets them once its views are dropped (start-up rebuilds them)."""
    views = open_view_store(f"sqlite:///{where / 'rebuilt.views.sqlite3'}")
    Projector(c.app.recorder, c.app.mapper, views).rebuild(batch_size=5)
    return views


async def test_a_duress_record_prints_the_visitors_redacted_text_and_the_reply_they_got(
    texted: Api, tmp_path: Path
) -> None:
    client, c = texted
    reply = await the_reply(client, "ok, Bluebird! see you soon", "SM21")
    await asyncio.to_thread(c.projector.catch_up)
    [alert] = c.views.find("alert")
    assert alert["kind"] == "duress"
    page = await printed(client, c, str(alert["id"]))
    assert 'text received: "ok, [redacted]! see you soon"' in page, page
    assert f'reply sent by text: "{reply}"' in page, page
    assert page.index("text received") < page.index("duress alert raised")
    assert page.index("duress alert raised") < page.index("reply sent by text")
    assert "bluebird" not in page.lower()

    subject = f"alert:{alert['id']}"
    before = c.views.index(subject)
    views = await asyncio.to_thread(rebuilt, c, tmp_path)
    try:
        # the same entries (the outbox may have recorded more since, in the background)
        assert views.index(subject)[: len(before)] == before
        rows = [r["summary"] for r in timeline(c.app, views, subject)]
    finally:
        views.close()
    assert 'text received: "ok, [redacted]! see you soon"' in rows
    assert f'reply sent by text: "{reply}"' in rows


async def test_an_sos_by_text_prints_the_help_text_and_its_reply(texted: Api) -> None:
    client, c = texted
    reply = await the_reply(client, "HELP", "SM22")
    assert reply == HELP_REPLY
    await asyncio.to_thread(c.projector.catch_up)
    [alert] = c.views.find("alert")
    page = await printed(client, c, str(alert["id"]))
    assert 'text received: "HELP"' in page and f'reply sent by text: "{HELP_REPLY}"' in page


async def test_a_duress_from_the_phone_app_prints_the_visitors_redacted_message(
    texted: Api,
) -> None:
    """The app's `message` is checked at intake; the record prints it as stored."""
    client, c = texted
    await asyncio.to_thread(devices(c).text, "sos-0001", "Running late, bluebird", "app-9")
    await asyncio.to_thread(c.projector.catch_up)
    [alert] = c.views.find("alert")
    page = await printed(client, c, str(alert["id"]))
    assert 'sent message: "Running late, [redacted]"' in page, page
    assert "duress alert raised: the safe word in a message on device sos-0001;" in page, page
    assert "bluebird" not in page.lower()


async def test_an_ordinary_text_is_in_no_alerts_record(texted: Api) -> None:
    client, c = texted
    await the_reply(client, "OK", "SM23")
    await asyncio.to_thread(c.projector.catch_up)
    assert c.views.find("alert") == []
    assert c.views.find("alert-text") == []
