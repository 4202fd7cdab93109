"""An SOS pressed during a visit is part of the visit, in a real headless Chromium.

Seen before: the alert had no address, the SMS said only who pressed, the visitor's mobile
appeared nowhere, and the board said "At the property" while red alerts were open.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.console_world import a_lone_visit_out, devices
from tests.e2e.browsers import playwright_api, shot, signed_in

ADDRESS = "12 Mountdale Gardens, Leigh-on-Sea SS9 2AB"


@pytest.mark.mosquitto
async def test_an_sos_during_a_visit_carries_the_visit_and_shows_on_its_row(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    await asyncio.to_thread(a_lone_visit_out, container, "fri-sam", back_in=timedelta(hours=1))
    page = await signed_in(browser, base, "reception1")
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(devices(container).press, "sos-0001", "on-visit-1")

    card = page.locator(".alert-card").first
    await expect(card).to_contain_text("SOS — Sam Jones", timeout=5000)
    await expect(card).to_contain_text(ADDRESS)
    await expect(card).to_contain_text("Lone visit, expected back")
    # The visit's reference (often a generated id) is no words for a receptionist.
    await expect(card.locator("dd").filter(has_text="Lone visit")).not_to_contain_text("fri-sam")
    # The visitor's mobile, with one-click call and text links.
    visitor = card.locator(".reach-list li").first
    await expect(visitor).to_contain_text("Sam Jones +447700900001")
    call = visitor.get_by_role("link", name="Call Sam Jones")
    assert await call.get_attribute("href") == "tel:+447700900001"
    assert await visitor.get_by_role("link", name="Text Sam Jones").get_attribute("href") == (
        "sms:+447700900001"
    )
    # Everyone told can be called back from the card.
    desk = card.locator(".told-person").filter(has_text="Contact centre desk")
    assert await desk.locator("a.told-call").get_attribute("href") == "tel:+441702000010"
    await page.screenshot(**shot("feed-sos-on-visit.png"))

    # The board's row for the visit shows the open alert, linked to its card.
    board = await page.context.new_page()
    await board.goto("/console/visits")
    row = board.locator("tr[data-visit]").filter(has_text="Sam Jones")
    badge = row.locator(".visit-alerts a")
    await expect(badge).to_have_text("SOS open")
    await board.screenshot(**shot("board-sos-open.png"))

    # Taken in the feed: the row says so.
    await card.get_by_role("button", name="Acknowledge").click()
    await expect(badge).to_have_text("SOS taken", timeout=5000)


@pytest.mark.mosquitto
async def test_a_duress_card_gives_the_visitors_number_but_no_call_link(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    await asyncio.to_thread(a_lone_visit_out, container, "fri-sam", back_in=timedelta(hours=1))
    page = await signed_in(browser, base, "reception1")
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(devices(container).text, "sos-0001", "all fine, bluebird")
    card = page.locator(".alert-card").first
    await expect(card).to_contain_text("Duress", timeout=5000)
    visitor = card.locator(".reach-list li").first
    await expect(visitor).to_contain_text("+447700900001 (do not call)")
    assert await visitor.locator("a[href^='tel:']").count() == 0
