"""A long record in the console comes in pages: the first 500 rows, the count of all of
them, and the rest on "Show more" (or on scrolling to the end), in a real Chromium."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from service.container import Container
from service.domain.devices.messages import DeviceMessage
from service.records import pages
from service.records.audit import audit_trail
from service.records.replay import incident_record
from service.records.whole_checks import checks_of
from tests.e2e.browsers import playwright_api, signed_in
from tests.integration.test_integrity import tamper

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


@pytest.mark.mosquitto
async def test_a_long_record_opened_first_says_it_is_checking_then_gives_the_verdict(
    console: Any, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page of a long record comes before the whole check: the console says
    "Checking the whole record", never "verified", until the verdict comes; an event
    altered where no row shown is then fails the record."""
    expect = playwright_api.expect
    base, container, _device = console
    await asyncio.to_thread(heartbeats, container, "sos-0001", 520)  # more than a page
    checks_of(container.app).inline_up_to = 5
    gate = threading.Event()
    whole = pages.check_whole

    def held(*args: Any) -> Any:
        gate.wait(30)
        return whole(*args)

    monkeypatch.setattr(pages, "check_whole", held)
    record = await asyncio.to_thread(
        incident_record, container.app, container.views, "device:sos-0001"
    )
    last = record["events"][-1]
    await asyncio.to_thread(
        tamper, container.app, UUID(last["aggregate_id"]), last["version"], b"519", b"915"
    )
    page = await signed_in(browser, base, "dsl1")
    asked: list[str] = []  # the console's questions for the verdict alone
    page.on("request", lambda r: asked.append(r.url) if "/timeline/verdict?" in r.url else None)
    try:
        await page.goto("/console/timeline?device=sos-0001")
        await expect(page.locator(".verdict.checking")).to_contain_text("Checking the whole record")
        await expect(page.locator("#events tr").first).to_contain_text("sealed")
        assert await page.locator(".verdict.ok").count() == 0
        for _ in range(100):  # asked at least twice while checking
            if len(asked) >= 2:
                break
            await asyncio.sleep(0.1)
        await expect(page.locator(".verdict.checking")).to_be_visible()
        gate.set()
        await expect(page.locator(".verdict.bad")).to_contain_text("Integrity check FAILED")
        await expect(page.locator("#title")).to_contain_text("Device sos-0001")
        assert len(asked) >= 2
        # The trail says the DSL opened the record once, not how often the browser asked.
        await asyncio.to_thread(container.projector.catch_up)
        trail = await asyncio.to_thread(audit_trail, container.views, None)
        opened = [(a["actor"], a["action"]) for a in trail if a["subject"] == "device:sos-0001"]
        assert opened == [("dsl:dsl1", "timeline")]
    finally:
        gate.set()
        checks_of(container.app).wait("device:sos-0001")
