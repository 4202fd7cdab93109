"""In a real headless Chromium, as a receptionist, a DSL and an admin would use it:

- reception adds a note to an open alert and hands it to the DSL; the DSL's feed, open
  in another browser, shows both as they happen, and the alert's timeline has them;
- an admin invites a colleague, who chooses a password with the one-time link and signs
  in; the admin disables a receptionist who has the feed open, and her page goes to the
  sign-in page by itself; the audit trail shows each change.

Screenshots at 1366 px and 820 px are saved in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from service.bootstrap import build, create_app
from service.config import Settings
from service.container import Container
from tests.conftest import free_port
from tests.console_world import PASSWORD, devices, with_every_role
from tests.e2e.browsers import shot, signed_in

playwright_api = pytest.importorskip("playwright.async_api")
WIDTHS = (1366, 820)


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[str, Container]]:
    """The whole service on a free port (the console notifier: no texts leave)."""
    port = free_port()
    settings = Settings(
        database_url=sqlite_url, http_addr=f"127.0.0.1:{port}", poll_interval=0.2, map_tiles="none"
    )
    container = build(settings)
    with_every_role(container.app)
    runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}", container
    finally:
        await runner.cleanup()
        container.close()


async def test_reception_notes_and_hands_over_and_the_dsl_sees_it_live(
    served: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container = served
    pressed = await asyncio.to_thread(
        devices(container).press, "sos-0001", "work-e2e-1", lat=51.5412, lon=0.7104, acc=12
    )
    card_id = f"#alert-{pressed.alert_id}"
    reception = await signed_in(browser, base, "reception1", width=1366)
    dsl = await signed_in(browser, base, "dsl1", width=820)
    theirs = dsl.locator(card_id)
    await expect(theirs).to_be_visible()
    await expect(dsl.locator("#live-pill")).to_have_text("Live")

    card = reception.locator(card_id)
    # "Who has been told": one row per person, each with a one-click call-back link.
    desk = card.locator(".told-person").filter(has_text="Contact centre desk")
    await expect(desk.get_by_role("link", name="Call Contact centre desk on")).to_have_attribute(
        "href", "tel:+441702000010"
    )
    # On no visit, the person the alert is about is one click away too.
    await expect(card.get_by_role("link", name="Call Sam Jones on")).to_have_attribute(
        "href", "tel:+447700900001"
    )
    started = time.monotonic()
    await card.get_by_role("button", name="Add note…").click()
    await card.get_by_label("Note (kept in the record").fill("Rang the home, no answer")
    await card.get_by_role("button", name="Add note", exact=True).click()
    await expect(card.locator(".work-log")).to_contain_text("you: Rang the home, no answer")
    await expect(theirs.locator(".work-log")).to_contain_text(
        "reception1 (contact centre): Rang the home, no answer"
    )
    print(
        f"\nnote typed and seen on the other operator's feed in {time.monotonic() - started:.2f} s"
    )

    await expect(card.get_by_role("button", name="Hand over…")).to_have_count(0)  # not taken yet
    await card.get_by_role("button", name="Acknowledge").click()
    await card.get_by_role("button", name="Hand over…").click()
    await card.get_by_label("Hand it to").select_option("dsl1")
    await card.get_by_label("Where things stand").fill("Police called 21:40, ref 1234")
    await card.get_by_role("button", name="Hand over", exact=True).click()
    await expect(card.locator(".holder")).to_contain_text("dsl1 (DSL)")
    await expect(theirs.locator(".holder")).to_contain_text("you (handed to you at")
    await expect(theirs.locator(".work-log")).to_contain_text(
        "reception1 (contact centre) handed it to you: Police called 21:40, ref 1234"
    )
    # dsl1 has no mobile in this directory: whoever handed it over is told to tell them.
    await expect(card.locator(".work-log .not-texted")).to_have_text(
        "dsl1 (DSL) not texted: no mobile on record. Tell them yourself."
    )
    await expect(theirs.locator(".work-log")).to_contain_text(
        "not texted: you have no mobile on record"
    )
    await reception.screenshot(**shot("feed-alert-worked-1366.png"))
    await dsl.screenshot(**shot("feed-alert-worked-820.png"))

    await dsl.goto(f"/console/timeline?alert={pressed.alert_id}")
    record = dsl.locator("main")
    await expect(record).to_contain_text("note by reception1 (contact centre): Rang the home")
    # The timeline says it from the handover as recorded, as the printed record does.
    await expect(record).to_contain_text(
        "reception1 (contact centre) handed the alert to dsl1 (DSL); not texted: no mobile on "
        "record - Police called 21:40, ref 1234"
    )


async def test_an_admin_invites_disables_and_the_audit_trail_shows_it(
    served: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, _container = served
    reception = await signed_in(browser, base, "reception1")
    await expect(reception.locator("#live-pill")).to_have_text("Live")
    admin = await signed_in(browser, base, "admin1", width=1366)
    await admin.get_by_role("link", name="Users").click()
    await expect(admin.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    await expect(admin.locator("#user-reception1")).to_contain_text("Active")

    await admin.get_by_label("Username").fill("a.new")
    await admin.get_by_label("Role").select_option("operator")
    await admin.get_by_label("School").select_option("lancaster")
    await admin.get_by_role("button", name="Invite").click()
    link = await admin.locator("#link-url").input_value()
    assert "/console/welcome?user=a.new&code=" in link
    await expect(admin.locator("#user-a\\.new")).to_contain_text("Invited — link not used yet")
    await admin.screenshot(**shot("admin-invited-1366.png"))

    newcomer_context = await browser.new_context(viewport={"width": 820, "height": 900})
    newcomer = await newcomer_context.new_page()
    await newcomer.goto(link)
    await newcomer.get_by_label("New password").fill("a long new password")
    await newcomer.get_by_label("The same password again").fill("a long new password")
    await newcomer.screenshot(**shot("welcome-820.png"))
    await newcomer.get_by_role("button", name="Set password").click()
    await newcomer.wait_for_url("**/console/login**")
    await expect(newcomer.get_by_role("status")).to_contain_text("Your password is set")
    await expect(newcomer.get_by_label("Username")).to_have_value("a.new")
    await newcomer.get_by_label("Password").fill("a long new password")
    await newcomer.get_by_role("button", name="Sign in").click()
    await newcomer.wait_for_url("**/console/")
    await expect(newcomer.locator(".topbar")).to_contain_text("a.new")

    row = admin.locator("#user-reception1")
    await row.get_by_role("button", name="Disable…").click()
    await admin.get_by_label("Why (kept in the audit trail)").fill("left the school")
    await admin.get_by_role("button", name="Disable account").click()
    await expect(row).to_contain_text("Disabled")
    await admin.set_viewport_size({"width": 820, "height": 900})
    await admin.screenshot(**shot("admin-users-820.png"))
    # Her open feed is not reloaded by anyone: its live stream ends, and the page finds
    # itself signed out and goes to the sign-in page on its own.
    await reception.wait_for_url("**/console/login**", timeout=20_000)
    await reception.get_by_label("Username").fill("reception1")
    await reception.get_by_label("Password").fill(PASSWORD)
    await reception.get_by_role("button", name="Sign in").click()
    await expect(reception.get_by_role("alert")).to_contain_text("do not match")

    mine = admin.locator("#user-admin1")
    await expect(mine).to_contain_text("another admin changes your own account")
    await admin.get_by_role("link", name="Audit trail", exact=True).click()
    trail = admin.locator("#audit")
    await expect(trail).to_contain_text("Disabled a user")
    await expect(trail).to_contain_text("left the school")
    await expect(trail).to_contain_text("Invited a user")
    await expect(trail).to_contain_text("Chose a password")
