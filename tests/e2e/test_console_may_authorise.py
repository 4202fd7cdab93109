"""Who may authorise, on the visit board, in a real headless Chromium over the demo
directory (Lancaster authorises like the SEN Trust Southend: the headteacher, SLT or the
DSL; 08:00-18:00). On a Saturday visit with every before-visit check met, the DSL's badge
says it is ready for the headteacher (not "Ready to authorise", and not in the green
that says "your move"), and they see
"Authorise the visit" held back, saying beside it (and as its description) that only the
headteacher authorises a visit outside school hours, so they are not refused after
pressing it; the headteacher presses it. Checked by axe-core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.application import visit_policy
from service.clock import FakeClock
from service.container import Container
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from tests.e2e.browsers import playwright_api, shot, signed_in
from tests.e2e.demo_trust import DSL, DemoConsole, sams_lone_visit, the_demo_trust
from tests.e2e.test_console_accessibility import BLOCKING, axe_source, violations  # noqa: F401
from tests.e2e.test_console_visit_policy import no_blocking_violations

SATURDAY = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)  # London is on UTC in December
USERS = ("dsl1", "head1")
NOT_YOURS = (
    "Not yours to authorise: only the headteacher (outside school hours) can authorise this "
    "visit: it is not within one working day."
)
READY_FOR_HEAD = "Ready for the headteacher (outside school hours) to authorise"


@pytest.fixture
async def saturday(tmp_path: Path) -> AsyncIterator[DemoConsole]:
    async with the_demo_trust(tmp_path, FakeClock(SATURDAY), USERS) as it:
        yield it


def a_ready_saturday_visit(c: Container, ref: str, *, ready: bool = True) -> str:
    """Sam's lone visit this Saturday morning, risk assessed, and (if `ready`) with every
    check of Lancaster's policy before authorising met: the decision and Sam's signature."""
    visit = sams_lone_visit(c, ref, starts_in=timedelta(minutes=90))
    if ready:
        visit_policy.decide_companions(c.app, visit, DSL, decision="single", reason="known family")
        sam = Principal("s-jones", "lancaster", Role.STAFF)
        visit_policy.confirm(c.app, visit, sam, "risk_assessment")
    c.projector.catch_up()
    return str(visit)


async def badge_colours(panel: Any) -> tuple[str, str]:
    """The badge's background and text colour, as the reader sees them."""
    colours: list[str] = await panel.locator("summary .badge").evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    return colours[0], colours[1]


async def test_a_weekend_visit_is_not_the_dsls_to_authorise_and_the_board_says_so(
    saturday: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")  # the fixture imported above
    base, c, clock = saturday
    visit = await asyncio.to_thread(a_ready_saturday_visit, c, "sat-sam")

    page = await signed_in(browser, base, "dsl1", 1366, path="/console/visits", clock=clock)
    panel = page.locator(f"#before-{visit}")
    # Every check is met, but it is not the DSL's to authorise: the badge says whose it is.
    await expect(panel.locator("summary")).to_have_text(READY_FOR_HEAD)
    # ...and not in the green that says "your move": it waits for someone else.
    await expect(panel.locator("summary .badge")).to_have_class("badge state waiting")
    waiting = await badge_colours(panel)
    await panel.locator("summary").click()
    await expect(panel).to_contain_text("Who may authorise: the headteacher (outside school hours)")
    button = panel.get_by_role("button", name="Authorise the visit")
    await expect(button).to_be_disabled()
    await expect(button).to_have_accessible_description(NOT_YOURS)
    await expect(panel.locator(".not-yet-why")).to_have_text(NOT_YOURS)
    await expect(panel.locator("form[data-action=authorise]")).to_have_count(0)
    await no_blocking_violations(page, axe, "may-authorise-weekend-dsl")
    await page.screenshot(**shot("may-authorise-weekend-dsl.png"))

    # A visit planned while the board is open arrives on the live stream (which cannot
    # carry the reader's answer): it is held back the same way, never offered meanwhile.
    later = await asyncio.to_thread(a_ready_saturday_visit, c, "sat-sam-2")
    second = page.locator(f"#before-{later}")
    await expect(second.locator("summary")).to_have_text(READY_FOR_HEAD, timeout=15_000)
    await second.locator("summary").click()
    await expect(
        second.get_by_role("button", name="Authorise the visit")
    ).to_have_accessible_description(NOT_YOURS)
    await expect(second.get_by_role("button", name="Authorise the visit")).to_be_disabled()

    head = await signed_in(browser, base, "head1", 1366, path="/console/visits", clock=clock)
    theirs = head.locator(f"#before-{visit}")
    await expect(theirs.locator("summary")).to_have_text("Ready to authorise")
    assert await badge_colours(theirs) != waiting  # the headteacher's is the one that says go
    await theirs.locator("summary").click()
    await expect(theirs.locator(".not-yet-why")).to_have_count(0)
    await no_blocking_violations(head, axe, "may-authorise-weekend-head")
    await theirs.locator("form[data-action=authorise]").get_by_role("button").click()
    await expect(head.locator(f"#visit-{visit}")).to_contain_text("Authorised — not signed out")
