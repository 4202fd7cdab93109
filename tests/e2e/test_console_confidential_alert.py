"""An alert's replay in the console, in a real Chromium: reception sees who, what kind and
who was told, with the visitor's own words shown as [confidential] and a line saying why;
the DSL reads the words. (King's Academy: "shared only with authorised personnel in line
with safeguarding protocols"; the visit records' rule, service/domain/people/confidentiality.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.domain.people.confidentiality import WITHHELD
from tests.console_world import devices
from tests.e2e.browsers import playwright_api, shot, signed_in

WORDS = "at UPN-0042's house, all fine bluebird"  # s-jones's safe word (tests/worlds.py)
STORED = "at UPN-0042's house, all fine [redacted]"


@pytest.mark.mosquitto
async def test_reception_replays_the_alert_without_the_visitors_words_the_dsl_with_them(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    await asyncio.to_thread(devices(container).text, "sos-0001", WORDS, "app-confid")
    await asyncio.to_thread(container.projector.catch_up)
    [alert] = container.views.find("alert")
    assert alert["kind"] == "duress"
    path = f"/console/timeline?alert={alert['id']}"

    reception = await signed_in(browser, base, "reception1")
    await reception.goto(path)
    rows = reception.locator("#events")
    await expect(rows).to_contain_text(f'sent message: "{WITHHELD}"')
    await expect(rows).to_contain_text("duress alert raised")  # what kind, and that it is
    await expect(reception.locator("#title")).to_contain_text("Duress alert")
    await expect(reception.locator("#subtitle")).to_contain_text("Sam Jones")  # who
    await expect(reception.locator(".withheld-note")).to_contain_text(
        "what the visitor wrote and the pupil's reference are for the DSL"
    )
    text = await reception.locator("main").inner_text()
    assert "UPN-0042" not in text and "all fine" not in text
    await expect(reception.get_by_role("link", name="Printable record")).to_have_count(0)
    await reception.screenshot(**shot("confidential-alert-reception.png"))

    dsl = await signed_in(browser, base, "dsl1")
    await dsl.goto(path)
    await expect(dsl.locator("#events")).to_contain_text(f'sent message: "{STORED}"')
    await expect(dsl.locator(".withheld-note")).to_have_count(0)
    await expect(dsl.get_by_role("link", name="Printable record")).to_be_visible()
    await dsl.screenshot(**shot("confidential-alert-dsl.png"))
