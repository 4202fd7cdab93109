"""What each school's visit policy asks, in the console, in a real headless Chromium over the
demo directory (Lancaster configured like the SEN Trust Southend policy, Kingsdown like
Cottenham Village College's): the board's panel says what is missing before authorisation,
who may authorise and what the visitor confirms, and the DSL, the visitor and the
authoriser do each step there; the policy sheet puts what is enforced beside the policy's
words. Both pages checked by axe-core at a desk's width and a tablet's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.clock import FakeClock
from service.container import Container
from tests.e2e.browsers import playwright_api, shot, signed_in
from tests.e2e.demo_trust import DemoConsole, sams_lone_visit, the_demo_trust
from tests.e2e.test_console_accessibility import BLOCKING, axe_source, violations  # noqa: F401

TUESDAY = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # in working hours; London is on UTC
USERS = ("dsl1", "head1", "s-jones", "admin1", "kdsl")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoConsole]:
    async with the_demo_trust(tmp_path, FakeClock(TUESDAY), USERS) as it:
        yield it


def a_lancaster_visit(c: Container) -> str:
    """Sam's lone visit this morning, planned and risk assessed by the DSL, not authorised."""
    visit = sams_lone_visit(c, "tue-sam", starts_in=timedelta(minutes=30))
    c.projector.catch_up()
    return str(visit)


async def no_blocking_violations(page: Any, source: str, where: str) -> None:
    found = await violations(page, source)
    Path(shot(f"axe-{where}.json")["path"]).write_text(json.dumps(found, indent=2))
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert not blocking, json.dumps(blocking, indent=2)


async def test_the_board_says_what_the_policy_needs_and_each_person_does_their_step(
    demo: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    """SEN Trust: "Discuss with the Headteacher, DSL (where appropriate) and/or relevant
    Senior Leader whether the visit should be made by a single member of staff or if an
    additional person is required"; "Obtain formal approval from the relevant member of
    staff, usually the Headteacher but may be a member of SLT or DSL"; "I have read and
    understand the Lone Working Risk Assessment." """
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")  # the fixture imported above
    base, c, clock = demo
    visit = await asyncio.to_thread(a_lancaster_visit, c)

    page = await signed_in(browser, base, "dsl1", 1366, path="/console/visits", clock=clock)
    panel = page.locator(f"#before-{visit}")
    await expect(panel.locator("summary")).to_have_text("2 things missing before authorisation")
    await panel.locator("summary").click()
    await expect(panel).to_contain_text(
        "Who may authorise: the headteacher, a member of the senior leadership team (SLT) or "
        "the designated safeguarding lead (DSL)"
    )
    await expect(panel.locator("[data-rule=pairs] .policy-words")).to_contain_text(
        "whether the visit should be made by a single member of staff"
    )
    await expect(panel.locator("[data-rule=risk_assessment_signed]")).to_contain_text(
        "(waiting for Sam Jones)"
    )
    await no_blocking_violations(page, axe, "visit-policy-panel-1366")
    await page.screenshot(**shot("visit-policy-panel.png"))

    # Not offered as if it could be pressed: disabled, saying what is missing, in words.
    authorise = panel.locator("[data-action=authorise]")
    button = authorise.get_by_role("button", name="Authorise the visit")
    await expect(button).to_be_disabled()
    await expect(button).to_have_accessible_description(
        "Not yet: the school's policy still needs, before authorising: the decision, with the "
        "headteacher, a member of the senior leadership team (SLT) or the designated "
        "safeguarding lead (DSL), whether the visit is made by a single member of staff or an "
        "additional person is required, and why; each visitor confirms: “I have read and "
        "understand the Community Lone Working Risk Assessment for this visit.” (waiting for "
        "Sam Jones)."
    )

    decide = panel.locator("form[data-action=decide]")
    await decide.get_by_label("Single member of staff").check()
    await decide.get_by_label("Why (kept in the record)").fill("known family; dropping off work")
    await decide.get_by_role("button").click()
    panel = page.locator(f"#before-{visit}")
    await expect(panel.locator("summary")).to_have_text("1 thing missing before authorisation")
    await expect(panel.get_by_role("button", name="Authorise the visit")).to_be_disabled()
    await expect(panel.locator("[data-action=authorise] li")).to_have_count(1)

    sam = await signed_in(browser, base, "s-jones", 1366, path="/console/visits", clock=clock)
    mine = sam.locator(f"#before-{visit}")
    await mine.locator("summary").click()
    confirm = mine.locator("form[data-action=confirm]")
    await expect(confirm).to_contain_text(
        "“I have read and understand the Community Lone Working Risk Assessment for this visit.”"
    )
    await expect(mine.locator("form[data-action=authorise]")).to_have_count(0)  # not Sam's to do
    await confirm.get_by_role("button", name="I confirm").click()
    # Ready, but not Sam's to authorise: the badge names who may; the DSL's says it is theirs.
    await expect(sam.locator(f"#before-{visit} summary")).to_have_text(
        "Ready for the headteacher, a member of the senior leadership team (SLT) or the "
        "designated safeguarding lead (DSL) to authorise"
    )

    await page.reload()
    panel = page.locator(f"#before-{visit}")
    await expect(panel.locator("summary")).to_have_text("Ready to authorise")
    await panel.locator("summary").click()
    await expect(panel.locator("[data-rule=pairs]")).to_contain_text(
        "single member of staff decided by dsl1 (DSL) at "
    )
    await expect(panel.get_by_role("button", name="Authorise the visit")).to_be_enabled()
    await expect(panel.locator(".not-yet-why")).to_have_count(0)
    await panel.locator("form[data-action=authorise]").get_by_role("button").click()
    await expect(page.locator(f"#visit-{visit}")).to_contain_text("Authorised — not signed out")


@pytest.mark.parametrize("width", [1366, 820])
async def test_the_policy_sheet_puts_what_is_enforced_beside_the_policys_words(
    demo: Any, browser: Any, request: pytest.FixtureRequest, width: int
) -> None:
    """Cottenham: "ALL HOME VISITS CONDUCTED BY STAFF MUST BE AUTHORISED BY THE SAFEGUARDING
    OFFICER." The headteacher reads their own school's; the trust's administrator every one."""
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")  # the fixture imported above
    base, _c, clock = demo
    page = await signed_in(browser, base, "kdsl", width, path="/console/policy", clock=clock)
    sheet = page.locator("#policy-kingsdown")
    rule = sheet.locator("[data-rule=authorised_by]")
    await expect(rule).to_contain_text(
        "Only the designated safeguarding lead (DSL) of the school can authorise a visit."
    )
    await expect(rule.locator(".policy-words")).to_have_text(
        "ALL HOME VISITS CONDUCTED BY STAFF MUST BE AUTHORISED BY THE SAFEGUARDING OFFICER."
    )
    await expect(sheet.locator("[data-rule=second_in_sight]")).to_contain_text(
        "the second member of staff should remain in sight of the property"
    )
    at_the_property = sheet.locator("[data-when=at_the_property]")
    await expect(at_the_property.get_by_role("heading", name="At the property")).to_be_visible()
    await expect(at_the_property.locator("[data-rule=bedroom]")).to_contain_text(
        "A visitor may not enter a child's bedroom"
    )
    await expect(at_the_property.locator("[data-rule=upstairs]")).to_contain_text(
        "only accompanied by a responsible adult"
    )
    await expect(page.locator("#policy-lancaster")).to_have_count(0)
    await no_blocking_violations(page, axe, f"policy-sheet-{width}")
    await page.screenshot(**shot(f"policy-sheet-{width}.png"))

    admin = await signed_in(browser, base, "admin1", width, path="/console/policy", clock=clock)
    await expect(admin.locator(".policy-sheet")).to_have_count(2)
    await no_blocking_violations(admin, axe, f"policy-sheets-admin-{width}")
