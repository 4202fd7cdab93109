"""In a real headless Chromium, as a trust's administrator would: invite the new deputy
DSL with their mobile, give a receptionist one, be told in words when a number is not in
international form, see each in the users list and the audit trail. The page is checked
by axe-core with the mobile form open, at a desk's width and a tablet's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browsers import shot, signed_in
from tests.e2e.test_console_accessibility import axe_source  # noqa: F401 - the fixture
from tests.e2e.test_console_alert_work_and_users import served  # noqa: F401 - the fixture
from tests.e2e.test_console_visit_policy import no_blocking_violations

playwright_api = pytest.importorskip("playwright.async_api")


async def test_an_admin_gives_mobiles_on_the_users_page(
    served: Any,  # noqa: F811
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    expect = playwright_api.expect
    axe: str = request.getfixturevalue("axe_source")
    base, _container = served
    admin = await signed_in(browser, base, "admin1", width=1366)
    await admin.goto("/console/admin")
    mobile_cell = admin.locator("#user-reception1 td").nth(2)
    await expect(mobile_cell).to_have_text("None")

    await admin.get_by_label("Username").fill("d.lead")
    await admin.get_by_label("Role").select_option("dsl")
    await admin.get_by_label("School").select_option("lancaster")
    await admin.get_by_label("Mobile (optional)").fill("+447700900123")
    await admin.get_by_role("button", name="Invite").click()
    await expect(admin.locator("#link-url")).to_be_visible()
    await expect(admin.locator("#user-d\\.lead")).to_contain_text("+447700900123")

    row = admin.locator("#user-reception1")
    await row.get_by_role("button", name="Mobile…").click()
    field = admin.get_by_label("Mobile of reception1")
    await expect(field).to_be_focused()
    await field.fill("07700 900456")
    await admin.get_by_role("button", name="Save mobile").click()
    await expect(admin.locator(".row-form .form-error")).to_have_text(
        "mobile '07700 900456' must be an international number like +447700900001"
    )
    for width in (1366, 820):
        await admin.set_viewport_size({"width": width, "height": 900})
        await no_blocking_violations(admin, axe, f"admin-mobile-form-{width}")
        await admin.screenshot(**shot(f"admin-mobile-form-{width}.png"))
    await field.fill("+447700900456")
    await admin.get_by_role("button", name="Save mobile").click()
    await expect(mobile_cell).to_have_text("+447700900456")
    await expect(admin.locator("#announcer")).to_have_text("reception1's mobile is +447700900456.")
    await expect(admin.locator(".row-form")).to_have_count(0)
    await no_blocking_violations(admin, axe, "admin-mobiles-820")
    await admin.screenshot(**shot("admin-mobiles-820.png"))

    mine = admin.locator("#user-admin1")
    await expect(mine).to_contain_text("another admin changes your own account")
    await mine.get_by_role("button", name="Mobile…").click()
    await admin.get_by_label("Mobile of admin1").fill("+447700900001")
    await admin.get_by_role("button", name="Save mobile").click()
    await expect(mine.locator("td").nth(2)).to_have_text("+447700900001")

    await admin.get_by_role("link", name="Audit trail", exact=True).click()
    trail = admin.locator("#audit")
    changes = trail.locator("tr").filter(has_text="Changed a user's role, school or mobile")
    await expect(changes).to_have_count(2)
    await expect(changes.nth(0)).to_contain_text("user admin1")
    await expect(changes.nth(1)).to_contain_text("user reception1")
