"""The feed card after many reminders, in a real headless Chromium: "who has been told" is
one row per person (the latest word on each channel, with its time; a refused number in
words), so a card stays short and the other alerts' Acknowledge buttons stay on screen.

Before: after 8 minutes one card listed 80 undated rows, 1,401 px tall. The screenshot is
saved as test-artifacts/feed-many-reminders.png for a person to look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from service.bootstrap import build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.alerts.alert import AlertKind
from simulators.twilio_double import TwilioDouble
from tests.conftest import free_port
from tests.console_world import devices, due_at_now, with_every_role
from tests.e2e.browsers import shot, signed_in
from tests.harness import eventually

playwright_api = pytest.importorskip("playwright.async_api")

SID = "AC" + "feed" * 8
TOKEN = "feed-auth-token"
CC1 = "+441702000010"
VIEWPORT_HEIGHT = 900  # signed_in's viewport


@pytest.fixture
async def feed(sqlite_url: str) -> AsyncIterator[tuple[str, Container, FakeClock, TwilioDouble]]:
    """The whole service on a free port with Twilio's double (its callbacks reach us)."""
    async with TwilioDouble(SID, TOKEN) as double:
        double.default_outcomes = {"messages": "delivered", "calls": "no_answer"}
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=sqlite_url,
            http_addr=f"127.0.0.1:{port}",
            public_url=public,
            twilio_account_sid=SID,
            twilio_auth_token=TOKEN,
            twilio_from_number="+441702999999",
            twilio_api_base=double.base_url,
            poll_interval=0.2,
        )
        clock = FakeClock()
        container = build(settings, clock=clock, backoff=(0.01, 0.01, 0.01))
        with_every_role(container.app)
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield public, container, clock, double
        finally:
            await runner.cleanup()
            container.close()


def pending(container: Container) -> list[dict[str, Any]]:
    container.projector.catch_up()
    return container.views.find("notification", states=["requested"])


def settled(container: Container) -> bool:
    """Nothing due at the fake clock's now and nothing waiting to be sent.

    The service's own scheduler loop fires timers too: when it has a step in hand, our tick
    passes that timer over (it stays pending until its event is in the views), and
    advancing the clock before the step is recorded merges the next minute's round into it
    (seen: 15 messages in 8 minutes instead of 30)."""
    return not pending(container) and not due_at_now(container)


async def test_a_card_after_8_minutes_of_reminders_lists_each_person_once(
    feed: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, clock, double = feed
    app = container.app
    double.refuse(CC1, 21610, kinds=("messages",))  # the desk's phone texted STOP
    recorded = await asyncio.to_thread(devices(container).press, "sos-0001", "feed-1")
    assert recorded.alert_id is not None
    for _ in range(8):
        clock.advance(timedelta(seconds=60))
        container.projector.catch_up()
        await asyncio.to_thread(container.scheduler.tick)
        await eventually(lambda: settled(container), what="every step due taken and sent")
    await asyncio.to_thread(
        app.raise_staff_alert, "s-jones", AlertKind.LOW_BATTERY, cause_key="low:feed", cause={}
    )
    await eventually(lambda: not pending(container), what="the amber alert's texts sent")
    alert = container.views.get("alert", str(recorded.alert_id)) or {}
    messages = len(alert["notifications"])
    assert messages >= 30, "many reminders and calls by now"

    page = await signed_in(browser, base, "reception1")
    card = page.locator(f"#alert-{recorded.alert_id}")
    await expect(card).to_be_visible()
    people = card.locator(".told-person")
    await expect(people).to_have_count(5)  # desk, reception, DSL, head, SLT: not one per message
    desk = people.filter(has_text="Contact centre desk")
    await expect(desk).to_contain_text("number refused: unsubscribed (STOP) — 21610")
    await expect(desk).to_contain_text("call \u00d7")  # called more than once
    await expect(people.filter(has_text="A. Lead")).to_contain_text("delivered ✓")
    for row in await people.all():
        assert await row.locator("time").count() >= 1, "every channel's latest word has a time"
    box = await card.bounding_box()
    assert box is not None
    print(f"\n{messages} notifications on the alert; card {box['height']:.0f} px tall")
    buttons = page.get_by_role("button", name="Acknowledge")
    await expect(buttons).to_have_count(2)
    for button in await buttons.all():
        place = await button.bounding_box()
        assert place is not None and place["y"] + place["height"] <= VIEWPORT_HEIGHT
    await page.screenshot(**shot("feed-many-reminders.png"))


async def test_a_contact_refused_on_both_channels_is_shown_as_a_person_to_call_another_way(
    feed: Any, browser: Any
) -> None:
    """When a number cannot be reached at all, the console is where a person picks it up:
    the failure card names who, the number and why, and does not say "nobody told yet"
    as if a text were still to come."""
    expect = playwright_api.expect
    base, container, _clock, double = feed
    double.refuse(CC1, 21211)  # the desk's number is not a valid number, for texts and calls
    recorded = await asyncio.to_thread(devices(container).press, "sos-0001", "feed-refused")
    assert recorded.alert_id is not None
    await eventually(lambda: not pending(container), what="every request answered")
    await eventually(
        lambda: any(
            a.get("kind") == "notification_failed" for a in container.views.find("alert", limit=100)
        ),
        what="the notification-failure alert",
    )
    page = await signed_in(browser, base, "reception1")
    failure = page.locator(".alert-card", has_text="Notification failed")
    await expect(failure).to_be_visible()
    await expect(failure).to_contain_text("Could not reach")
    await expect(failure).to_contain_text(f"Contact centre desk ({CC1})")
    await expect(failure).to_contain_text("21211")
    await expect(failure).not_to_contain_text("nobody told yet")
    sos = page.locator(f"#alert-{recorded.alert_id}")
    desk = sos.locator(".told-person").filter(has_text="Contact centre desk")
    await expect(desk.locator(".told-channels .told-channel")).to_have_count(2)
    await page.screenshot(**shot("feed-number-refused.png"))
