"""`lonewatch demo` as a newcomer runs it: a real process, everything embedded, a school day
played at 60x. Within the first minute the feed (API, then Chromium signed in with the
printed password) shows Sam Jones's SOS at 12 Acacia Road, texted, called and taken by the
DSL by key press; the visit board shows the day's visits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulators.demo_command import DEMO_PASSWORD
from tests.conftest import free_port
from tests.e2e.browsers import shot, signed_in
from tests.harness import REPO, cli, eventually

LONEWATCH = (sys.executable, "-m", "service.entrypoints.cli.main")


@dataclass
class Demo:
    http: str
    env: dict[str, str]
    log: Path

    def get(self, path: str, token: str) -> Any:
        request = urllib.request.Request(
            self.http + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def slowly(check: Callable[[], Any]) -> Callable[[], Any]:
    """`check` at most twice a second: the API's rate limit is for people, not loops."""
    last = [0.0]

    def throttled() -> Any:
        if time.monotonic() - last[0] < 0.5:
            return None
        last[0] = time.monotonic()
        return check()

    return throttled


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    env = {
        "LW_HTTP_ADDR": f"127.0.0.1:{port}",
        "LW_EMBEDDED_MQTT_PORT": str(free_port()),
        "LW_LOG_FORMAT": "json",
    }
    store = tmp_path / "store"
    log = tmp_path / "demo.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*LONEWATCH, "demo", "--speed", "60", "--store", str(store)],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
    try:
        yield Demo(
            f"http://127.0.0.1:{port}",
            {**env, "LW_DATABASE_URL": f"sqlite:///{store / 'lonewatch.sqlite3'}"},
            log,
        )
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_the_demo_day_shows_an_sos_taken_in_the_feed(demo: Demo, browser: Any) -> None:
    printed = await eventually(
        lambda: "password lonewatch-demo" in demo.log.read_text() and demo.log.read_text(),
        timeout=60,
        what="the demo's banner",
    )
    assert f"console:   {demo.http}/console/" in printed
    token = cli(demo.env, "token", "create", "--user", "reception1")

    def the_sos_taken() -> dict[str, Any] | None:
        for alert in demo.get("/api/v1/alerts", token)["alerts"]:
            if alert["kind"] == "sos" and alert.get("acknowledged_by"):
                return dict(alert)
        return None

    sos = await eventually(slowly(the_sos_taken), timeout=120, what="the SOS, taken")
    assert sos["staff_name"] == "Sam Jones"
    assert sos["acknowledged_by"] == "A. Lead" and sos["acknowledged_via"] == "voice"
    assert sos["visit"]["address"] == "12 Acacia Road, Leigh-on-Sea SS9 1AA"
    to_the_dsl = await eventually(
        lambda: [x for x in demo.log.read_text().splitlines() if "text to A. Lead" in x],
        what="the demo telling of the DSL's text",
    )
    assert "(+441702000011): ESCALATED: " in to_the_dsl[0]
    assert "on a home visit at 12 Acacia Road" in to_the_dsl[0]

    for width in (1366, 820):
        page = await signed_in(browser, demo.http, "reception1", width, password=DEMO_PASSWORD)
        context = page.context
        await page.get_by_text("Sam Jones").first.wait_for(timeout=20_000)
        await page.screenshot(**shot(f"demo-feed-{width}.png"))
        await page.goto("/console/visits")
        await page.get_by_text("Rob Ross").first.wait_for(timeout=20_000)
        await page.screenshot(**shot(f"demo-visits-{width}.png"))
        # The record in words: the escalation in a sentence, who was told one click away.
        await page.goto(f"/console/timeline?alert={sos['id']}")
        state = page.locator("#state")
        await state.get_by_text("taken by A. Lead by key press on the call after").wait_for()
        await state.get_by_text("Who was told, person by person").click()
        await state.get_by_text("A. Lead (+441702000011): ").wait_for()
        said = await state.inner_text()
        assert "on a home visit at 12 Acacia Road" in said
        assert not re.search(r"\d{4}-\d\d-\d\dT|lone true|[0-9a-f]{8}-[0-9a-f]{4}", said)
        await page.screenshot(**shot(f"demo-timeline-alert-{width}.png"))
        await page.goto(f"/console/timeline?visit={sos['visit']['id']}")
        await state.get_by_text("A lone visit by Sam Jones to 12 Acacia Road").wait_for()
        await page.screenshot(**shot(f"demo-timeline-visit-{width}.png"))
        await context.close()
