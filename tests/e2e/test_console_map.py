"""The map on an alert's card and timeline, in a real headless Chromium, with tiles off
(LW_MAP_TILES=none): what a console with no network to a tile server shows.

Asked for: a map of the last known location that still works, with a plain marker, when no
tiles load — never a broken box — and that a keyboard or screen-reader user can pass by.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.console_world import devices
from tests.e2e.browsers import playwright_api, shot, signed_in

LAT, LON, ACC = 51.5396, 0.6868, 25


def refuse_on(page: Any, refused: list[str]) -> None:
    """Collects what the page's CSP refused (Leaflet must run under script-src 'self')."""
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)


# Read in one go, in the page: a card is rebuilt (with a fresh map) as each message's news
# arrives, so separate reads could straddle two maps.
MEASURE = """css => {
    const f = document.querySelector(css);
    const map = f && f.isConnected && f.lwMap;
    const icon = f && f.querySelector('.leaflet-marker-icon');
    if (!map || !icon) return null;
    const box = f.querySelector('.map-box').getBoundingClientRect();
    const tip = icon.getBoundingClientRect();
    const focusable = "a[href], button, input, [tabindex]:not([tabindex='-1'])";
    return {center: map.getCenter(), hidden: f.getAttribute('aria-hidden'),
            caption: f.querySelector('.map-caption').textContent,
            circles: f.querySelectorAll('path.map-accuracy').length,
            focusable: f.querySelectorAll(focusable).length,
            tip: [tip.left + tip.width / 2, tip.bottom],
            middle: [box.left + box.width / 2, box.top + box.height / 2]};
}"""


async def the_map_shows_the_location(page: Any, css: str) -> None:
    seen = await (await page.wait_for_function(MEASURE, arg=css, timeout=5000)).json_value()
    center = seen["center"]
    assert abs(center["lat"] - LAT) < 1e-4 and abs(center["lng"] - LON) < 1e-4, seen
    # The marker's tip (the bottom middle of its icon) is on the map's centre, to the pixel.
    assert abs(seen["tip"][0] - seen["middle"][0]) <= 2, seen
    assert abs(seen["tip"][1] - seen["middle"][1]) <= 2, seen
    assert seen["caption"] == f"{LAT:.5f}, {LON:.5f} ± {ACC} m · map tiles unavailable", seen
    assert seen["circles"] == 1, "the accuracy circle is drawn"
    # Decorative beside the words: hidden from screen readers, nothing in it takes focus.
    assert seen["hidden"] == "true" and seen["focusable"] == 0, seen
    await playwright_api.expect(page.locator(f"{css} .leaflet-marker-icon")).to_be_visible()


@pytest.mark.mosquitto
async def test_an_sos_with_a_location_shows_a_plain_marker_there_when_no_tiles_load(
    console: Any, browser: Any
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    page = await signed_in(browser, base, "reception1")
    refused: list[str] = []
    refuse_on(page, refused)
    await expect(page.locator("#live-pill")).to_have_text("Live")
    pressed = await asyncio.to_thread(
        devices(container).press, "sos-0001", "map-1", lat=LAT, lon=LON, acc=ACC
    )

    card = page.locator(".alert-card").first
    await expect(card).to_contain_text("SOS", timeout=5000)
    await expect(card).to_contain_text(f"(within {ACC} m)")
    await the_map_shows_the_location(page, ".alert-card .alert-map")
    await page.screenshot(**shot("feed-map-no-tiles.png"))
    # Taking the alert rebuilds its card; the map drawn before is kept, not drawn afresh.
    await page.evaluate("() => { document.querySelector('.alert-map').lwKept = 'drawn once'; }")
    await card.get_by_role("button", name="Acknowledge").click()
    await expect(card).to_contain_text("Taken by")
    assert await page.evaluate("() => document.querySelector('.alert-map').lwKept") == "drawn once"
    await the_map_shows_the_location(page, ".alert-card .alert-map")

    timeline = await page.context.new_page()
    refuse_on(timeline, refused)
    await timeline.goto(f"/console/timeline?alert={pressed.alert_id}")
    await the_map_shows_the_location(timeline, "#state .alert-map")
    await timeline.screenshot(**shot("timeline-map-no-tiles.png"))
    assert not refused, refused


@pytest.mark.mosquitto
async def test_an_alert_with_no_location_has_no_map_box(console: Any, browser: Any) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    page = await signed_in(browser, base, "reception1")
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(devices(container).press, "sos-0001", "map-2")
    card = page.locator(".alert-card").first
    await expect(card).to_contain_text("not known", timeout=5000)
    assert await card.locator(".alert-map").count() == 0
