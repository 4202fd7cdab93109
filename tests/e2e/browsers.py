"""The console in a real headless Chromium, shared by the browser tests: Debian's chromium
driven by Playwright (never `playwright install`: it downloads, and cannot here), the whole
service in-process on a free port, and screenshots saved for a person to look at."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from service.bootstrap import create_app
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, REQUIRE_SERVICES, free_port
from tests.console_world import PASSWORD, with_every_role
from tests.harness import REPO, Device, forget_session, service_in_process

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = os.environ.get("LW_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def map_tiles() -> str:
    """LW_MAP_TILES for the console: off, so no test reaches for a tile server (a test
    module overrides this fixture to serve its own tiles)."""
    return "none"


@pytest.fixture
async def console(
    mosquitto_url: str, tmp_path: Path, topic_prefix: str, run_id: str, map_tiles: str
) -> AsyncIterator[tuple[str, Container, Device]]:
    """The whole service in-process (gateway on the real Mosquitto), served on a free port."""
    client_id = f"lw-e2e-{run_id}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
        poll_interval=0.2,
        map_tiles=map_tiles,
    )
    async with service_in_process(settings) as container:
        with_every_role(container.app)
        async with served(container) as base:
            device = await Device.connect(
                MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, "sos-0001", f"dev-{run_id}"
            )
            try:
                yield base, container, device
            finally:
                device.close()
    forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


@contextlib.asynccontextmanager
async def served(container: Container) -> AsyncIterator[str]:
    """The running service's routes on a free port, for a browser: its base URL. Only the
    routes: service_in_process already runs the background tasks."""
    app = create_app(container)
    app.cleanup_ctx.clear()
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in(
    browser: Any,
    base: str,
    username: str,
    width: int = 1280,
    *,
    path: str = "/console/",
    clock: FakeClock | None = None,
    timezone: str = "Europe/London",
    password: str = PASSWORD,
) -> Any:
    """A fresh browser context signed in as `username` (the tests' password unless told), on `path`: an
    anonymous visit there goes to the sign-in page and back. `clock` freezes the page's
    clock at the service's; `timezone` is the machine's (a contact centre's kiosk may be
    on UTC)."""
    context = await browser.new_context(
        base_url=base,
        viewport={"width": width, "height": 900},
        locale="en-GB",
        timezone_id=timezone,
    )
    page = await context.new_page()
    if clock is not None:
        await page.clock.install(time=clock.now())
    await page.goto(path)
    assert "/console/login" in page.url, "an anonymous visit goes to the sign-in page"
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{path}")
    return page


def shot(name: str) -> dict[str, Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    return {"path": str(ARTIFACTS / name), "full_page": True}
