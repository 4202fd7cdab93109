"""Every console page, as each person who uses it sees it, checked by axe-core in a real
headless Chromium at a desk's width (1366 px) and a tablet's (820 px): no serious or
critical accessibility violation. A screenshot of each is saved in test-artifacts/ for a
person to look at.

A receptionist may work the console by keyboard or with a screen reader, on a small
laptop or a tablet at the front desk: a page that fails them delays an alarm.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.console_world import devices
from tests.e2e.browsers import shot, signed_in
from tests.harness import REPO

AXE = REPO / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1366, 820)
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"no axe-core at {AXE} (make test installs it: npm ci --prefix tests/e2e/axe)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


async def violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    # Evaluated over the DevTools protocol: the console's CSP (script-src 'self') rightly
    # refuses an injected <script>, and the page is checked as served, CSP and all.
    await page.evaluate(f"() => {{ {axe_source}\n; window.axe = axe; }}")
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


@pytest.mark.mosquitto
async def test_every_page_has_no_serious_accessibility_violation_at_desk_and_tablet_width(
    console: Any, browser: Any, axe_source: str
) -> None:
    base, container, _device = console
    # With a location, so the feed's card and the timeline carry their map (tiles off).
    pressed = await asyncio.to_thread(
        devices(container).press, "sos-0001", "axe-1", lat=51.5, lon=0.69, acc=20
    )
    await asyncio.to_thread(container.projector.catch_up)
    pages = [
        ("login", None, "/console/login", "h1"),
        ("feed", "reception1", "/console/", ".alert-card .alert-map .leaflet-marker-icon"),
        ("visits", "dsl1", "/console/visits", "h1"),
        ("devices", "reception1", "/console/devices", "#device-sos-0001"),
        ("timeline", "dsl1", f"/console/timeline?alert={pressed.alert_id}", "#state .alert-map"),
        ("audit", "admin1", "/console/audit", "#audit tr"),
        ("history", "reception1", "/console/history", "#results tr"),
        ("reports", "dsl1", "/console/reports", ".school-report"),
        ("policy", "head1", "/console/policy", ".policy-sheet"),
        ("admin", "admin1", "/console/admin", "#user-reception1"),
        ("welcome", None, "/console/welcome?user=a.new&code=not-a-code", "h1"),
    ]
    report: dict[str, list[dict[str, Any]]] = {}
    for width in WIDTHS:
        for name, user, path, ready in pages:
            if user is None:
                context = await browser.new_context(
                    base_url=base, viewport={"width": width, "height": 900}, locale="en-GB"
                )
                page = await context.new_page()
            else:
                page = await signed_in(browser, base, user, width)
            await page.goto(path)
            await page.locator(ready).first.wait_for(state="visible", timeout=5000)
            await page.screenshot(**shot(f"page-{name}-{width}.png"))
            found = await violations(page, axe_source)
            report[f"{name}@{width}"] = found
            await page.context.close()
    Path(shot("axe-report.json")["path"]).write_text(json.dumps(report, indent=2))
    blocking = {
        where: [v for v in found if v["impact"] in BLOCKING]
        for where, found in report.items()
        if any(v["impact"] in BLOCKING for v in found)
    }
    assert not blocking, json.dumps(blocking, indent=2)


async def test_the_check_itself_finds_a_broken_page(browser: Any, axe_source: str) -> None:
    """So that an empty report means a good page, not a check that never ran."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.set_content(
        "<html><body><img src='x.png'><input type='text'><a href='#'></a></body></html>"
    )
    found = {v["id"] for v in await violations(page, axe_source)}
    await context.close()
    assert {"image-alt", "label", "link-name"} <= found
