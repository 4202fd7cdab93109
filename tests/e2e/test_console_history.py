"""Looking back in the console, in a real headless Chromium: a receptionist finds last
week's false alarm by its outcome and opens its record; a DSL finds a colleague's visits;
the monthly report shows the answer times against the BS 8484 bands as charts, and prints
without the console's frame. Screenshots at a desk's width (1366 px) and a tablet's (820 px)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from service.domain.alerts.alert import Outcome
from tests.console_world import a_lone_visit_out, an_sos
from tests.e2e.browsers import playwright_api, shot, signed_in


async def _past_alerts(container: Any) -> tuple[str, str]:
    """Two SOS presses by Sam Jones: the first a false alarm, resolved; the second still open."""
    false_alarm = await an_sos(container.app, container.projector, "hist-e2e-1")
    await asyncio.to_thread(
        container.app.resolve_alert,
        UUID(false_alarm),
        outcome=Outcome.FALSE_ALARM,
        note="pressed in a pocket",
        by="operator:reception1",
    )
    still_open = await an_sos(container.app, container.projector, "hist-e2e-2")
    await asyncio.to_thread(container.projector.catch_up)
    return false_alarm, still_open


@pytest.mark.mosquitto
@pytest.mark.parametrize("width", [1366, 820])
async def test_history_finds_a_false_alarm_and_opens_its_record(
    console: Any, browser: Any, width: int
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    false_alarm, still_open = await _past_alerts(container)
    await asyncio.to_thread(a_lone_visit_out, container, "hist-e2e-v", back_in=timedelta(hours=2))
    page = await signed_in(browser, base, "reception1", width)

    await page.get_by_role("link", name="History").click()
    await page.wait_for_url("**/console/history**")
    rows = page.locator("#results tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#results")).to_contain_text("Still open")

    await page.get_by_label("Alert outcome").select_option("false_alarm")
    await page.get_by_label("Person").fill("sam")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("False alarm")
    await expect(rows.first).to_contain_text("pressed in a pocket")
    assert "outcome=false_alarm" in page.url, "the search is in the address, to share or reload"
    await page.screenshot(**shot(f"history-alerts-{width}.png"))

    await page.get_by_role("button", name="Clear").click()
    await page.get_by_label("From", exact=True).fill("2020-01-02")
    await page.get_by_label("To", exact=True).fill("2020-01-01")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#form-error")).to_contain_text("from must be before to")

    await page.get_by_role("button", name="Clear").click()
    await page.get_by_label("Visits").check()
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Sam Jones")
    await page.screenshot(**shot(f"history-visits-{width}.png"))

    await page.get_by_label("Alerts").check()
    await page.get_by_label("Alert outcome").select_option("false_alarm")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link", name="Timeline").click()
    await page.wait_for_url(f"**/console/timeline?alert={false_alarm}")
    assert still_open not in page.url
    await page.context.close()


@pytest.mark.mosquitto
@pytest.mark.parametrize("width", [1366, 820])
async def test_the_monthly_report_draws_the_answer_bands_and_prints_cleanly(
    console: Any, browser: Any, width: int
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    await _past_alerts(container)
    page = await signed_in(browser, base, "dsl1", width)

    await page.get_by_role("link", name="Reports").click()
    await page.wait_for_url("**/console/reports**")
    school = page.locator(".school-report")
    await expect(school).to_have_count(1)
    await expect(school).to_contain_text("2 alarms")
    await expect(school).to_contain_text("Taken within 10 s")
    await expect(school.get_by_role("row", name="False alarms")).to_contain_text("1")
    charts = school.locator("svg.chart")
    assert await charts.count() >= 3
    await expect(school.get_by_role("img", name="Alarms by kind")).to_be_visible()
    await page.screenshot(**shot(f"reports-{width}.png"))

    await page.emulate_media(media="print")
    await expect(page.locator("#topbar")).to_be_hidden()
    await expect(page.locator("#pick")).to_be_hidden()
    await expect(charts.first).to_be_visible()
    await page.screenshot(**shot(f"reports-print-{width}.png"))

    await page.emulate_media(media="screen")
    await page.get_by_label("Month", exact=True).fill("2001-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#report")).to_contain_text("No alarms this month")
    await page.context.close()
