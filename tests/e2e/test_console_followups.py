"""What happened at the property, recorded from the visit board in a real browser: a decision
refused with the policy's words, one that ends the visit; an incident that shows what the
policy asks next and tells the headteacher; the injury-at-work protocol as a follow-up that
stays until someone marks it done."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.console_world import a_lone_visit_out
from tests.e2e.browsers import shot, signed_in
from tests.e2e.test_console_accessibility import BLOCKING, axe_source, violations

__all__ = ["axe_source"]


@pytest.mark.mosquitto
async def test_an_incident_and_its_followup_on_the_visit_board(
    console: Any, browser: Any, axe_source: str
) -> None:
    """'Complete injury at work protocol on return.' (SEN Trust)"""
    base, container, _device = console
    visit = await asyncio.to_thread(
        a_lone_visit_out, container, "board-incident", back_in=timedelta(hours=1)
    )
    page = await signed_in(browser, base, "dsl1")
    await page.goto("/console/visits")
    decision = page.locator("form[aria-labelledby=decision-heading]")
    await decision.locator("select[name=visit]").select_option(visit)
    await decision.locator("select[name=rule]").select_option("bedroom")
    assert "Do not enter a child's" in await decision.locator("#rule-words").inner_text()
    await decision.locator("select[name=choice]").select_option("entered_with_controls")
    await decision.get_by_label("Why").fill("asked to see the room")
    await decision.get_by_role("button", name="Record the decision").click()
    await decision.get_by_role("alert").get_by_text("Do not enter a child's").wait_for()
    await decision.locator("select[name=visit]").select_option(visit)
    await decision.locator("select[name=rule]").select_option("invited_by_child")
    await decision.locator("select[name=choice]").select_option("left")
    await decision.get_by_label("Why").fill("a child answered; no adult at home")
    await decision.get_by_role("button", name="Record the decision").click()
    await decision.get_by_text("the visit ended early").wait_for()

    form = page.locator("form[aria-labelledby=incident-heading]")
    await form.locator("select[name=visit]").select_option(visit)
    await form.locator("select[name=kind]").select_option("injury")
    await form.get_by_label("What happened").fill("Bitten by the dog in the hall")
    await form.get_by_role("button", name="Record the incident").click()
    status = form.get_by_role("status")
    await status.get_by_text("Complete injury at work protocol on return.").wait_for()
    assert "the headteacher has been texted" in await status.inner_text()
    replay = status.get_by_role("link", name="Open the visit's record (replay)")
    assert await replay.get_attribute("href") == f"/console/timeline?visit={visit}"

    row = page.locator("#followups tbody tr")
    await row.first.wait_for()
    assert await row.count() == 1
    assert "Complete injury at work protocol" in await row.first.inner_text()
    await page.screenshot(**shot("visits-followups.png"))
    found = [v for v in await violations(page, axe_source) if v["impact"] in BLOCKING]
    assert not found, found

    log = page.locator("form[aria-labelledby=log-heading]")
    assert await log.get_by_role("button", name="Log the follow-up").is_visible()
    await row.first.get_by_role("textbox").fill("form sent to the office")
    await row.first.get_by_role("button", name="Done").click()
    await page.get_by_text("No follow-up actions open.").wait_for()

    await page.goto(f"/console/timeline?visit={visit}")  # the replay shows each of them
    for words in ("decision by", "visit ended early by", "incident 1 (injury) recorded"):
        await page.get_by_text(words).first.wait_for()
    await page.context.close()
