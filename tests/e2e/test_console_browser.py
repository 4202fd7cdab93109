"""The console in a real headless Chromium: an SOS pressed on a device (published over
MQTT to the real Mosquitto) appears in the contact centre's feed without a reload, is
acknowledged and resolved there, and its timeline opens for the DSL.

Screenshots of the feed, the visit board, the devices and a timeline are saved in
test-artifacts/ for a person to look at.

The visit board runs in simulated time: the service's fake clock and the browser's
(Playwright's page clock) are moved together, so "overdue by 10m" is true in both.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from service.adapters.directory_file import load_directory
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.console_world import (
    a_lone_visit_out,
    a_visit_authorised,
    heartbeat,
    settle,
    with_every_role,
    with_passwords,
)
from tests.e2e.browsers import playwright_api, served, shot, signed_in
from tests.harness import service_in_process
from tests.integration.test_integrity import tamper
from tests.visit_worlds import VISITS_DIRECTORY

NEW_ALERT_WITHIN_MS = 2000
CARD_WATCH = """() => new MutationObserver((_, observer) => {
    if (document.querySelector('.alert-card')) { window.cardSeen = Date.now(); observer.disconnect(); }
}).observe(document.getElementById('open'), { childList: true })"""


async def test_an_sos_appears_live_is_taken_resolved_and_replayed(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, device = console
    page = await signed_in(browser, base, "reception1")
    await expect(page.get_by_text("No open alerts")).to_be_visible()
    await expect(page.locator("#live-pill")).to_have_text("Live")

    # The fob is pressed: MQTT publish -> gateway -> event store -> views -> SSE -> the page.
    # The page notes the wall-clock moment the card is in the DOM (same machine, same clock).
    await page.evaluate(CARD_WATCH)
    started = time.time()
    await device.send("sos", {"id": "e2e-press-1", "lat": 51.5412, "lon": 0.7104, "acc": 15})
    card = page.locator(".alert-card").first
    await expect(card).to_be_visible(timeout=NEW_ALERT_WITHIN_MS)
    seen_after = await page.evaluate("window.cardSeen") / 1000 - started
    print(f"\nMQTT publish to row in the feed: {seen_after * 1000:.0f} ms")
    assert seen_after < NEW_ALERT_WITHIN_MS / 1000
    await expect(card).to_contain_text("SOS — Sam Jones")
    # Where the device was, as a map link, never a bare pair of numbers (issue 14).
    await expect(card).to_contain_text("map (within 15 m)")
    await expect(card.get_by_role("link", name="map")).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=51.54120&mlon=0.71040&zoom=17"
    )
    await expect(page).to_have_title("(1) RED ALERT — Lonewatch")
    await expect(page.locator("#announcer")).to_contain_text("New red alert: SOS, Sam Jones")
    # "sent" is the provider accepting it, not a phone getting it: no status report says so here.
    desk = card.locator(".told-person").filter(has_text="Contact centre desk")
    await expect(desk).to_contain_text("text: accepted by the test notifier")
    await page.screenshot(**shot("feed.png"))

    # One click takes it.
    await card.get_by_role("button", name="Acknowledge").click()
    await expect(card).to_contain_text("Taken by")
    await expect(page.locator(".alert-card .taken").first).to_contain_text("you at")
    await expect(page).to_have_title("Alerts — Lonewatch")

    # Resolve with an outcome and a note.
    await page.locator(".alert-card").first.get_by_role("button", name="Resolve…").click()
    await page.get_by_label("False alarm").check()
    await page.get_by_label("What happened").fill("Sam pressed it in a bag; rang back, all fine")
    await page.get_by_role("button", name="Resolve alert").click()
    await expect(page.get_by_text("No open alerts")).to_be_visible()
    resolved = page.locator("#resolved tr").first
    await expect(resolved).to_contain_text("False alarm")
    alert_id = next(iter(a["id"] for a in container.views.find("alert")))

    # A dropped stream shows a banner, reconnects by itself and reloads what it missed.
    dropped = time.monotonic()
    container.hub.close_all()
    await expect(page.locator("#offline")).to_be_visible(timeout=2000)
    await device.send("sos", {"id": "e2e-press-2"})
    await expect(page.locator("#offline")).to_be_hidden(timeout=5000)
    print(f"stream dropped to live again: {(time.monotonic() - dropped) * 1000:.0f} ms")
    await expect(page.locator(".alert-card")).to_have_count(1, timeout=3000)

    # The timeline of the first alert: every event, verified, and the state at any step.
    await resolved.get_by_role("link", name="Timeline").click()
    await page.wait_for_url(f"**/console/timeline?alert={alert_id}")
    await expect(page.locator(".verdict.ok")).to_contain_text("Record verified")
    rows = page.locator("#events tr")
    count = await rows.count()
    assert count >= 6
    await page.locator("#slider").fill("2")
    await expect(page.locator("#state")).to_contain_text("Nobody had taken it yet")
    await page.locator("#slider").fill(str(count))
    await expect(page.locator("#state")).to_contain_text("Sam pressed it in a bag")
    await page.screenshot(**shot("timeline.png"))

    await page.goto("/console/devices")
    await expect(page.locator("#device-sos-0001")).to_contain_text("sos 2")
    await page.screenshot(**shot("devices.png"))
    await page.goto("/console/visits")
    await expect(page.locator("#board")).to_contain_text("Nobody is out on a visit")
    await page.screenshot(**shot("board-empty.png"))

    # The DSL exports the record for the safeguarding file; an admin sees that it happened.
    dsl = await signed_in(browser, base, "dsl1", width=820)
    await expect(dsl.locator(".alert-card")).to_have_count(1)
    await dsl.screenshot(**shot("feed-tablet.png"))
    await dsl.goto(f"/console/timeline?alert={alert_id}")
    await expect(dsl.get_by_role("link", name="Printable record")).to_be_visible()
    await dsl.screenshot(**shot("timeline-tablet.png"))
    export = await dsl.request.get(f"/api/v1/timeline/export?alert={alert_id}&format=html")
    assert export.ok and "Record verified" in await export.text()
    await dsl.goto(f"/api/v1/timeline/export?alert={alert_id}&format=html")
    await dsl.screenshot(**shot("export.png"))
    await asyncio.to_thread(container.projector.catch_up)
    admin = await signed_in(browser, base, "admin1")
    await admin.goto("/console/audit")
    await expect(admin.locator("#audit")).to_contain_text("Exported (printable)")
    # People as they are known, browsers in short: the recorded values one click away.
    await expect(admin.locator("#audit")).to_contain_text("reception1 (contact centre)")
    await expect(admin.locator("#audit")).not_to_contain_text("operator:reception1")
    browser_named = admin.locator("#audit summary").filter(has_text=" on Linux").first
    await expect(browser_named).to_be_visible()
    assert "Mozilla/5.0" in str(await browser_named.get_attribute("title"))
    await expect(admin.locator("#audit .user-agent").first).to_be_hidden()
    await admin.screenshot(**shot("audit.png"))

    # Someone edits the resolution note in the database: the timeline says so at once.
    stored = container.app.recorder.select_events(UUID(alert_id))
    [resolved] = [e for e in stored if b"in a bag" in e.state]  # later events may follow it
    tamper(container.app, UUID(alert_id), resolved.originator_version, b"in a bag", b"at home")
    await page.goto(f"/console/timeline?alert={alert_id}")
    await expect(page.locator(".verdict.bad")).to_contain_text("Integrity check FAILED")
    await expect(page.locator("#events tr.tampered")).to_contain_text("✗ altered")
    await page.screenshot(**shot("timeline-altered.png"))


FRIDAY = datetime(2026, 11, 27, 14, 20, tzinfo=UTC)  # Europe/London is on UTC in November


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[tuple[str, Container, FakeClock]]:
    """The service on a fake clock (no MQTT: device messages are recorded directly), with the
    visits directory's second lone visitor, served on a free port."""
    clock = FakeClock(FRIDAY)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}", poll_interval=0.2)
    async with service_in_process(settings, clock=clock, with_mqtt=False) as container:
        with_every_role(container.app)
        container.app.import_directory(load_directory(VISITS_DIRECTORY))
        async with served(container) as base:
            yield base, container, clock


async def test_an_overdue_visit_turns_red_and_reception_marks_ringing_home_done(
    board: Any, browser: Any
) -> None:
    """'If contact is not possible, Reception staff will attempt to contact the Pupil's home.'"""
    expect = playwright_api.expect
    base, c, clock = board
    sam = await asyncio.to_thread(a_lone_visit_out, c, "fri-sam", back_in=timedelta(minutes=30))
    for _ in range(15):  # a minute at a time, Sam's fob beating: no silence to notice
        clock.advance(timedelta(minutes=1))
        await asyncio.to_thread(heartbeat, c, "sos-0001", 64)
    await asyncio.to_thread(
        a_lone_visit_out,
        c,
        "fri-priya",
        back_in=timedelta(minutes=65),
        staff="p-patel",
        device="sos-0003",
        address="4 Chalkwell Avenue, Westcliff-on-Sea SS0 8NA",
        pupil_ref="UPN-0107",
    )
    await asyncio.to_thread(
        a_visit_authorised,
        c,
        "fri-rob",
        "r-ross",
        timedelta(minutes=45),
        timedelta(minutes=100),
        address="31 Hadleigh Road, Leigh-on-Sea SS9 2LZ",
        pupil_ref="UPN-0311",
    )

    async def at(minutes: int) -> None:
        """Both clocks to FRIDAY 14:20 + minutes, a minute at a time; the fobs keep beating
        and each deadline fires when due."""
        while clock.now() < FRIDAY + timedelta(minutes=minutes):
            clock.advance(timedelta(minutes=1))
            for device, battery in (("sos-0001", 64), ("sos-0003", 88)):
                await asyncio.to_thread(heartbeat, c, device, battery)
            await asyncio.to_thread(settle, c)
        await page.clock.set_system_time(clock.now())

    page = await signed_in(browser, base, "reception1", path="/console/visits", clock=clock)
    context = page.context
    await expect(page.locator("#live-pill")).to_have_text("Live")
    sam_row = page.locator(f"#visit-{sam}")
    await expect(sam_row).to_contain_text("Sam Jones")
    await expect(sam_row).to_contain_text("12 Mountdale Gardens")
    await expect(sam_row.locator(".due")).to_contain_text("in 15m")
    await expect(page.locator("#summary")).to_contain_text("2 out now")
    await expect(page.locator("#planned")).to_contain_text("Rob Ross")

    await at(40)  # 15:00: expected return 14:50 + ten minutes' grace; the ladder starts
    await expect(sam_row).to_have_class(re.compile(r"\blate\b"))
    await expect(sam_row.locator(".due")).to_contain_text("overdue by 10m")
    await expect(sam_row).to_contain_text("Overdue ladder — step 1")
    await expect(page.locator("#announcer")).to_contain_text("Sam Jones is overdue")
    await expect(page.locator(".visit-row").first).to_contain_text("Sam Jones")
    await expect(page.locator(".visit-row").nth(1)).not_to_have_class(re.compile(r"\blate\b"))

    await at(50)  # 15:10: step 2, reception rings the pupil's home
    task = page.locator(".task-card")
    await expect(task).to_contain_text("Ring the pupil's home")
    await expect(task).to_contain_text("ring the home of pupil UPN-0042")
    # "...the member of staff will be contacted on the mobile phone. If contact is not
    # possible, Reception staff will attempt to contact the Pupil's home": the visitor's
    # mobile is on the card, one press to try them again.
    call = task.get_by_role("link", name="Call +447700900001 (Sam Jones)")
    await expect(call).to_have_attribute("href", "tel:+447700900001")
    await expect(task.locator(".task-visitor")).to_contain_text("Lonewatch has texted and rung")
    await expect(sam_row.locator(".due")).to_contain_text("overdue by 20m")
    await expect(sam_row).to_contain_text("heard")
    await page.screenshot(**shot("board.png"))
    tablet = await context.new_page()
    await tablet.clock.install(time=clock.now())
    await tablet.set_viewport_size({"width": 820, "height": 1180})
    await tablet.goto("/console/visits")
    await expect(tablet.locator(".task-card")).to_be_visible()
    await tablet.screenshot(**shot("board-tablet.png"))
    await tablet.close()

    # The alert feed names reception's step and says where its task is.
    feed = await context.new_page()
    await feed.clock.install(time=clock.now())
    await feed.goto("/console/")
    to_task = feed.get_by_role("link", name="the task is on the visit board")
    await expect(to_task).to_have_attribute("href", "/console/visits#tasks-section")
    await expect(feed.locator("dd").filter(has=to_task)).to_contain_text(
        "overdue ladder: reception rings the pupil's home"
    )
    await to_task.click()
    await expect(feed.locator(".task-card")).to_contain_text("ring the home of pupil UPN-0042")
    await feed.close()

    await task.get_by_label("Note (optional, kept in the record)").fill(
        "Spoke to parent: Sam left 10 min ago, on the way back"
    )
    await task.get_by_role("button", name="Done").click()
    await expect(task).to_be_visible()  # what reception found must be said first
    await task.get_by_label("Spoke to the family — no cause for concern").check()
    await task.get_by_role("button", name="Done").click()
    await expect(page.locator(".task-card")).to_have_count(0)
    await expect(page.locator("#tasks-section")).to_be_hidden()
    await expect(sam_row).to_contain_text(
        "Reception rang the home at 15:10: spoke to the family — no cause for concern"
    )
    await page.goto(f"/console/timeline?visit={sam}")
    await expect(page.locator("#events")).to_contain_text(
        "reception's call to the pupil's home done by reception1 (contact centre) "
        "(reached the home, no concern): Spoke to parent: Sam left 10 min ago"
    )
    await page.screenshot(**shot("board-timeline.png"))
    await context.close()


async def test_the_visitor_never_sees_the_duress_alert_their_safe_word_raised(
    board: Any, browser: Any
) -> None:
    """ "nothing reaches the visitor on duress": Sam's safe word raises a silent alert that
    reception sees on Sam's row at once; Sam, reading their own visit on the board (their
    phone may be in someone else's hands), is shown no sign of it, live or reloaded."""
    expect = playwright_api.expect
    base, c, clock = board
    with_passwords(c.app, ["s-jones"])
    sam = await asyncio.to_thread(a_lone_visit_out, c, "fri-sam", back_in=timedelta(minutes=30))
    visitor = await signed_in(browser, base, "s-jones", path="/console/visits", clock=clock)
    desk = await signed_in(browser, base, "reception1", path="/console/visits", clock=clock)
    await expect(visitor.locator(f"#visit-{sam}")).to_contain_text("Sam Jones")

    reply = await asyncio.to_thread(
        c.app.receive_sms, sender="+447700900001", body="OK bluebird", message_sid="SMd1"
    )
    assert reply == "Lonewatch: received, thank you."
    await asyncio.to_thread(settle, c)
    # `settle` applies the alert to the views itself, so no live change may follow: read again.
    await desk.reload()
    await expect(desk.locator(f"#visit-{sam} .visit-alerts")).to_contain_text(
        "Duress open", timeout=15_000
    )
    await visitor.wait_for_timeout(1500)  # the same live change has reached Sam's page
    await expect(visitor.locator(f"#visit-{sam}")).not_to_contain_text("Duress")
    await visitor.reload()
    await expect(visitor.locator(f"#visit-{sam}")).to_contain_text("Sam Jones")
    await expect(visitor.locator(f"#visit-{sam}")).not_to_contain_text("Duress")
    for path in ("/api/v1/visits", f"/api/v1/visits/{sam}"):
        body = await (await visitor.request.get(path)).text()
        assert "duress" not in body.lower(), path
    await visitor.screenshot(**shot("duress-visitor-board.png"))

    # Overdue too: reception's card to ring the home says not to call Sam, and offers no call.
    while clock.now() < FRIDAY + timedelta(minutes=50):
        clock.advance(timedelta(minutes=1))
        await asyncio.to_thread(heartbeat, c, "sos-0001", 64)
        await asyncio.to_thread(settle, c)
    await desk.clock.set_system_time(clock.now())
    task = desk.locator(".task-card")
    await expect(task).to_contain_text("Ring the pupil's home", timeout=15_000)
    await expect(task.locator(".task-visitor")).to_contain_text(
        "Do not call the visitor: a duress alert is open"
    )
    await expect(task.locator("a[href^='tel:']")).to_have_count(0)
