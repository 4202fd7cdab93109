"""Every console page tells the truth about itself, in a real headless Chromium.

What people saw before: the timeline and audit pages showed a red "Connecting" for ever
(they never follow the live stream); an operator opening the audit page saw an empty table
(the refusal was only in the browser's console); the replay's slider left the time picker
behind; a kiosk browser on UTC told times in UTC while the texts and the record told them
in the school's zone; the duress card did not say "do not call the visitor".
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.console_world import devices
from tests.e2e.browsers import playwright_api, shot, signed_in

SCHOOL_ZONE = ZoneInfo("Europe/London")


@pytest.mark.mosquitto
async def test_the_record_pages_say_they_are_not_live_and_tell_the_schools_time(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    pressed = await asyncio.to_thread(devices(container).press, "sos-0001", "honest-1")
    alert_id = str(pressed.alert_id)
    await asyncio.to_thread(container.projector.catch_up)
    page = await signed_in(browser, base, "dsl1", 1366, timezone="UTC")

    await page.goto(f"/console/timeline?alert={alert_id}")
    await expect(page.locator(".verdict.ok")).to_be_visible()
    pill = page.locator("#live-pill")
    await expect(pill).to_contain_text("As loaded")
    assert "Connecting" not in (await pill.inner_text())

    # Times are the school's wall clock with its zone, whatever the browser's zone.
    zone_name = datetime.now(SCHOOL_ZONE).tzname()
    assert zone_name is not None
    first_time = page.locator("#events tr").first.locator("td").nth(1)
    await expect(first_time).to_contain_text(zone_name)

    # The time picker follows the slider to the moment of the event shown.
    rows = await page.locator("#events tr").count()
    assert rows >= 2
    await page.locator("#slider").fill("1")
    first_at = await page.evaluate(
        "() => document.querySelector('#events tr td:nth-child(2)').textContent"
    )
    jump_value = await page.locator("#jump").input_value()
    # "6 Dec 2026, 04:59:07 GMT" and "2026-12-06T04:59:07" name the same second.
    assert jump_value[11:19] in first_at, (jump_value, first_at)
    await page.screenshot(**shot("timeline-utc-kiosk.png"))


@pytest.mark.mosquitto
async def test_a_refused_page_says_so_in_the_page(console: Any, browser: Any) -> None:
    expect = playwright_api.expect
    base, _container, _device = console
    page = await signed_in(browser, base, "reception1", 1366, timezone="UTC")
    await page.goto("/console/audit")
    refusal = page.get_by_role("alert").filter(has_text="You cannot read the audit trail")
    await expect(refusal).to_be_visible()
    await expect(page.locator("#live-pill")).to_contain_text("As loaded")
    await page.screenshot(**shot("audit-refused.png"))


@pytest.mark.mosquitto
async def test_the_duress_card_says_do_not_call_the_visitor(console: Any, browser: Any) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    page = await signed_in(browser, base, "reception1", 1366, timezone="UTC")
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(devices(container).text, "sos-0001", "on my way, bluebird")
    card = page.locator(".alert-card").first
    await expect(card).to_contain_text("Duress", timeout=5000)
    await expect(card.locator(".duress-warning")).to_contain_text("Do not call the visitor.")
    await page.screenshot(**shot("feed-duress.png"))
