"""A long record in the console comes in pages: the first 500 rows, the count of all of
them, and the rest on "Show more" (or on scrolling to the end), in a real Chromium."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from service.container import Container
from service.domain.devices.messages import DeviceMessage
from tests.e2e.browsers import playwright_api, signed_in

HEARTBEATS = 620


def heartbeats(c: Container, device: str, count: int) -> None:
    doc = c.views.get("device", device)
    assert doc is not None
    c.app.save(
        *(
            DeviceMessage(
                device=device,
                kind="heartbeat",
                message_id=None,
                device_ts=None,
                fields={"battery": 90, "seq": n},
                school=str(doc["school"]),
                staff=str(doc["staff"]),
                timestamp=datetime.now(UTC),
            )
            for n in range(count)
        )
    )
    c.projector.catch_up()


@pytest.mark.mosquitto
async def test_a_long_record_shows_its_first_page_and_the_rest_on_show_more(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    await asyncio.to_thread(heartbeats, container, "sos-0001", HEARTBEATS)
    page = await signed_in(browser, base, "dsl1")

    await page.goto("/console/timeline?device=sos-0001")
    await expect(page.locator(".verdict.ok")).to_be_visible()
    await expect(page.locator("#showing")).to_have_text(f"Showing 500 of {HEARTBEATS} events.")
    assert await page.locator("#events tr").count() == 500
    await expect(page.locator("#subtitle")).to_contain_text(f"{HEARTBEATS} recorded events")

    await page.get_by_role("button", name="Show more").click()
    await expect(page.locator("#showing")).to_have_text(f"Showing all {HEARTBEATS} events.")
    await expect(page.locator("#events tr")).to_have_count(HEARTBEATS)
    await expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    numbers = await page.locator("#events tr td:first-child").all_inner_texts()
    assert numbers == [str(n) for n in range(1, HEARTBEATS + 1)]  # each row once, in order
