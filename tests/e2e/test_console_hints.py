"""What the console says to reception at 3 pm on a Friday, in a real headless Chromium: an
overdue alert's Acknowledge button says the policy's steps go on; the card to ring the
pupil's home says where the home's number is (Lonewatch keeps none); and an SOS raised
silently (its message held the safe word) offers no call to the visitor, as a duress does.

"If the designated staff do not return to school at the agreed expected time of return,
the member of staff will be contacted on the mobile phone. If contact is not possible,
Reception staff will attempt to contact the Pupil's home. If contact has not been made or
there is any cause for concern, a member of SLT will be informed." (policy 003)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.adapters.directory_file import load_directory
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.alerts.alert import AlertKind
from tests.console_world import a_lone_visit_out, heartbeat, settle, with_every_role
from tests.e2e.browsers import playwright_api, served, shot, signed_in
from tests.harness import service_in_process
from tests.visit_worlds import VISITS_DIRECTORY

FRIDAY = datetime(2026, 11, 27, 14, 20, tzinfo=UTC)


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[tuple[str, Container, FakeClock]]:
    clock = FakeClock(FRIDAY)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}", poll_interval=0.2)
    async with service_in_process(settings, clock=clock, with_mqtt=False) as container:
        with_every_role(container.app)
        container.app.import_directory(load_directory(VISITS_DIRECTORY))
        async with served(container) as base:
            yield base, container, clock


async def until(c: Container, clock: FakeClock, minutes: int) -> None:
    """The fake clock to FRIDAY + minutes, a minute at a time, Sam's fob beating."""
    while clock.now() < FRIDAY + timedelta(minutes=minutes):
        clock.advance(timedelta(minutes=1))
        await asyncio.to_thread(heartbeat, c, "sos-0001", 64)
        await asyncio.to_thread(settle, c)


async def test_reception_is_told_the_steps_go_on_and_where_the_homes_number_is(
    board: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, c, clock = board
    await asyncio.to_thread(a_lone_visit_out, c, "fri-sam", back_in=timedelta(minutes=30))
    await until(c, clock, 50)  # overdue since 15:00; at 15:10 reception rings the home

    desk = await signed_in(browser, base, "reception1", path="/console/visits", clock=clock)
    task = desk.locator(".task-card")
    await expect(task).to_contain_text("Ring the pupil's home")
    await expect(task.locator(".task-home-number")).to_have_text(
        "The home's number is in the pupil's records (the school's MIS): "
        "Lonewatch keeps no family's numbers."
    )
    await desk.screenshot(**shot("hint-call-home-card.png"))

    await desk.goto("/console/")
    card = desk.locator(".alert-card").filter(has_text="Overdue")
    ack = card.get_by_role("button", name="Acknowledge")
    await expect(ack).to_be_visible()
    hint = card.locator(".ack-hint")
    await expect(hint).to_contain_text("Taking it does not stop the overdue steps")
    await expect(hint).to_contain_text("SLT are still informed")
    await expect(ack).to_have_attribute("aria-describedby", str(await hint.get_attribute("id")))
    await desk.screenshot(**shot("hint-overdue-ack.png"))


async def test_a_silent_sos_offers_no_call_to_the_visitor(board: Any, browser: Any) -> None:
    """Silent by its recorded flag, whatever its kind: the card warns and gives no call link;
    the card to ring the home says not to call the visitor."""
    expect = playwright_api.expect
    base, c, clock = board
    await asyncio.to_thread(a_lone_visit_out, c, "fri-sam", back_in=timedelta(minutes=30))
    await asyncio.to_thread(
        c.app.raise_staff_alert,
        "s-jones",
        AlertKind.SOS,
        cause_key="test:silent-sos",
        cause={"via": "test"},
        silent=True,
    )
    await asyncio.to_thread(settle, c)
    desk = await signed_in(browser, base, "reception1", path="/console/", clock=clock)
    card = desk.locator(".alert-card").filter(has_text="Sam Jones")
    await expect(card.locator(".duress-warning")).to_contain_text("Do not call the visitor.")
    await expect(card).to_contain_text("(do not call)")
    await expect(card.locator("a[href^='tel:+447700900001']")).to_have_count(0)
    await desk.screenshot(**shot("silent-sos-card.png"))

    await until(c, clock, 50)
    await desk.goto("/console/visits")
    task = desk.locator(".task-card")
    await expect(task.locator(".task-visitor")).to_contain_text(
        "Do not call the visitor: a silent alert (the safe word was used) is open", timeout=15_000
    )
    await expect(task.locator("a[href^='tel:']")).to_have_count(0)
