"""Planning a visit from the visit board, in a real headless Chromium over the demo directory:
the DSL fills in "Plan a visit" (visitor, pupil, address, purpose, times in the school's clock
and the risk assessment) and the visit appears under "Still to go out today" with the school's
policy panel; times that run backwards are refused in the page, in the API's words. A member
of staff of no school (none in the demo) would not see the form; the admin picks a school."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browsers import playwright_api, signed_in
from tests.e2e.test_console_accessibility import axe_source  # noqa: F401
from tests.e2e.test_console_visit_policy import demo, no_blocking_violations  # noqa: F401

ADDRESS = "3 Elm Road, Leigh-on-Sea SS9 1AA"
HAZARDS = ("aggressive_person", "animals", "driving", "public_areas", "illness_or_injury")


async def fill_the_form(page: Any, start: str, leave: str, back: str) -> Any:
    form = page.locator("#plan-form")
    await form.get_by_label("Visitor", exact=True).select_option(label="Sam Jones")
    await form.get_by_label("Pupil reference").fill("UPN-0077")
    await form.get_by_label("Address").fill(ADDRESS)
    await form.get_by_label("Purpose").select_option("attendance")
    await form.get_by_label("Planned start").fill(start)
    await form.get_by_label("Expected to leave the property").fill(leave)
    await form.get_by_label("Expected back").fill(back)
    for hazard in HAZARDS:
        row = form.locator(f"[data-hazard={hazard}]")
        await row.get_by_label("Likelihood").select_option("remote")
        await row.get_by_label("Severity").select_option("minor")
        await row.get_by_label("Risk").select_option("low")
        await row.get_by_label("Controls (one a line)").fill("Inform reception\nTake mobile phone")
    return form


async def test_the_dsl_plans_a_visit_on_the_board_and_a_backwards_time_is_refused(
    demo: Any,  # noqa: F811
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")
    base, _c, clock = demo  # Tuesday 8 December 2026, 10:00 in London
    page = await signed_in(browser, base, "dsl1", 1366, path="/console/visits", clock=clock)
    await expect(page.get_by_role("heading", name="Plan a visit")).to_be_visible()
    await expect(page.locator("#plan-school")).to_have_count(0)  # one school: nothing to pick

    form = await fill_the_form(page, "2026-12-08T11:00", "2026-12-08T11:45", "2026-12-08T11:30")
    await form.get_by_role("button", name="Plan the visit").click()
    await expect(form.locator("#plan-error")).to_have_text(
        "The visit was not planned: times must run planned start < expected time of leaving"
        " the property <= expected return"
    )
    await expect(page.locator("#planned")).not_to_contain_text(ADDRESS)
    await no_blocking_violations(page, axe, "plan-visit-refused-1366")

    await form.get_by_label("Expected back").fill("2026-12-08T12:00")
    await form.get_by_role("button", name="Plan the visit").click()
    await expect(form.locator("#plan-notice")).to_contain_text("Planned: Sam Jones to " + ADDRESS)
    await expect(form.locator("#plan-error")).to_have_text("")
    row = page.locator("#planned tr", has_text=ADDRESS)
    await expect(row).to_contain_text("Planned — not authorised")
    await expect(row).to_contain_text("11:00")  # leaves at 11:00 London time
    await expect(row).to_contain_text("12:00")
    await expect(row.locator("details summary")).to_contain_text("missing before authorisation")


async def test_the_admin_picks_the_school_and_its_staff_at_a_tablets_width(
    demo: Any,  # noqa: F811
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")
    base, _c, clock = demo
    page = await signed_in(browser, base, "admin1", 820, path="/console/visits", clock=clock)
    form = page.locator("#plan-form")
    await form.get_by_label("School").select_option(label="Kingsdown School")
    await expect(form.get_by_label("Visitor", exact=True).locator("option")).to_have_text(
        ["Choose…", "Kim Smith", "Kit Brown"]
    )
    await no_blocking_violations(page, axe, "plan-visit-admin-820")


async def test_a_member_of_staff_plans_their_own_visit_so_they_are_the_visitor_offered(
    demo: Any,  # noqa: F811
    browser: Any,
) -> None:
    expect = playwright_api.expect
    base, _c, clock = demo
    page = await signed_in(browser, base, "s-jones", 1366, path="/console/visits", clock=clock)
    await expect(page.locator("#plan-form").get_by_label("Visitor", exact=True)).to_have_value(
        "s-jones"
    )
