"""The map with tiles, in a real headless Chromium: the console loads them from the host
LW_MAP_TILES names (here a local tile server on another port, so another origin), and the
page's Content-Security-Policy lets those images in and nothing else."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.console_world import devices
from tests.e2e.browsers import playwright_api, shot, signed_in


def a_plain_tile() -> bytes:
    """A 1x1 pale green PNG (Leaflet stretches it to 256 px)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xd8\xf0\xd8"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def tile_requests() -> AsyncIterator[tuple[str, list[str]]]:
    served: list[str] = []
    png = a_plain_tile()

    async def tile(request: web.Request) -> web.Response:
        served.append(request.path)
        return web.Response(body=png, content_type="image/png")

    async def down(request: web.Request) -> web.Response:
        served.append(request.path)
        return web.Response(status=503, text="tile server down")

    app = web.Application()
    app.router.add_get("/{z}/{x}/{y}.png", tile)
    app.router.add_get("/down/{z}/{x}/{y}.png", down)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png", served
    finally:
        await runner.cleanup()


@pytest.fixture
def map_tiles(request: pytest.FixtureRequest, tile_requests: tuple[str, list[str]]) -> str:
    """The local tile server; under @pytest.mark.tiles_down, a path where every tile fails."""
    url = tile_requests[0]
    if request.node.get_closest_marker("tiles_down"):
        return url.replace("/{z}/", "/down/{z}/")
    return url


@pytest.mark.mosquitto
async def test_the_map_loads_its_tiles_from_the_configured_host_under_the_csp(
    console: Any, browser: Any, tile_requests: tuple[str, list[str]]
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    _, served = tile_requests
    page = await signed_in(browser, base, "reception1")
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(
        devices(container).press, "sos-0001", "tiles-1", lat=51.5396, lon=0.6868, acc=25
    )
    figure = page.locator(".alert-card .alert-map").first
    await expect(figure.locator(".leaflet-marker-icon")).to_be_visible(timeout=5000)
    await expect(figure.locator("img.leaflet-tile-loaded").first).to_be_visible(timeout=5000)
    # Tiles drawn: the caption gives the tiles' attribution, not "map tiles unavailable".
    await expect(figure.locator(".map-caption")).to_have_text(
        "51.53960, 0.68680 ± 25 m · © OpenStreetMap contributors"
    )
    assert served, "the browser asked the configured host for tiles"
    assert await figure.locator(".map-box.no-tiles").count() == 0
    await page.screenshot(**shot("feed-map-tiles.png"))
    assert not refused, refused


@pytest.mark.mosquitto
@pytest.mark.tiles_down
async def test_when_no_tile_loads_the_map_still_shows_its_marker_and_says_so(
    console: Any, browser: Any, tile_requests: tuple[str, list[str]]
) -> None:
    expect = playwright_api.expect
    base, container, _device = console
    _, served = tile_requests
    page = await signed_in(browser, base, "reception1")
    await expect(page.locator("#live-pill")).to_have_text("Live")
    await asyncio.to_thread(
        devices(container).press, "sos-0001", "tiles-2", lat=51.5396, lon=0.6868, acc=25
    )
    figure = page.locator(".alert-card .alert-map").first
    await expect(figure.locator(".leaflet-marker-icon")).to_be_visible(timeout=5000)
    await expect(figure.locator(".map-caption")).to_have_text(
        "51.53960, 0.68680 ± 25 m · map tiles unavailable", timeout=5000
    )
    await expect(figure.locator(".map-box.no-tiles")).to_have_count(1)
    assert served and all(path.startswith("/down/") for path in served), served
    await page.screenshot(**shot("feed-map-tiles-down.png"))
