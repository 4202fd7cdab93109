"""The verdict on a whole record alone (GET /api/v1/timeline/verdict), what the console asks
while a long record's first page says "checking": never a viewing in the audit trail (a
page is), asked by whom and about what exactly as the timeline itself is, and the same
verdict a page carries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from service.records import pages
from service.records.whole_checks import checks_of
from tests.console_world import CALLERS
from tests.integration.test_integrity import tamper
from tests.integration.test_records import an_incident
from tests.integration.test_records import api as api  # the fixtures
from tests.integration.test_records import api_on_each_store as api_on_each_store
from tests.trust_api import as_


async def viewings(client: Any, c: Any, subject: str) -> list[tuple[str, str]]:
    await asyncio.to_thread(c.projector.catch_up)
    trail = await (await client.get("/api/v1/audit", headers=as_(c, "admin1"))).json()
    return [(a["actor"], a["action"]) for a in trail["audit"] if a["subject"] == subject]


async def test_the_verdict_is_the_pages_and_is_not_a_viewing(api_on_each_store: Any) -> None:
    client, c, clock = api_on_each_store
    alert_id = await an_incident(client, c, clock)
    dsl = as_(c, "dsl1")
    subject = f"alert:{alert_id}"
    opened = 0
    for _ in range(50):  # the outbox may still be adding its sends: a verdict and a page alike
        page = await (await client.get(f"/api/v1/timeline?alert={alert_id}", headers=dsl)).json()
        opened += 1
        for _ in range(3):
            answer = await client.get(f"/api/v1/timeline/verdict?alert={alert_id}", headers=dsl)
            assert answer.status == 200
        verdict = await answer.json()
        whole = {k: v for k, v in page["integrity"].items() if k != "heads"}
        # A send recorded between the page and the verdict is checked again, with its own
        # time: the page's own check is the one to compare, once nothing is being added.
        if verdict["total"] == page["total"] and verdict["integrity"] == whole:
            break
        await asyncio.sleep(0.1)
    assert set(verdict) == {"subject", "total", "integrity"}  # no rows, no state
    assert verdict["subject"] == {"alert": alert_id} and verdict["total"] == page["total"]
    assert verdict["integrity"] == whole and whole["verified"] is True
    assert await viewings(client, c, subject) == [("dsl:dsl1", "timeline")] * opened
    await client.get(f"/api/v1/timeline?alert={alert_id}&limit=1", headers=dsl)
    assert await viewings(client, c, subject) == [("dsl:dsl1", "timeline")] * (opened + 1)


async def test_an_altered_record_fails_on_the_verdict_asked_first(api_on_each_store: Any) -> None:
    """Nothing checked and nothing in hand: the verdict read checks the whole record."""
    client, c, clock = api_on_each_store
    alert_id = await an_incident(client, c, clock)
    dsl = as_(c, "dsl1")
    stored = c.app.recorder.select_events(UUID(alert_id))
    [resolved] = [e for e in stored if b"pressed in a bag" in e.state]
    version = resolved.originator_version
    await asyncio.to_thread(tamper, c.app, UUID(alert_id), version, b"pressed in a bag", b"x")
    verdict = await (
        await client.get(f"/api/v1/timeline/verdict?alert={alert_id}", headers=dsl)
    ).json()
    assert verdict["integrity"]["verified"] is False and verdict["integrity"]["problems"]
    page = await (await client.get(f"/api/v1/timeline?alert={alert_id}", headers=dsl)).json()
    assert page["integrity"]["verified"] is False


async def test_whoever_may_not_read_the_timeline_may_not_ask_its_verdict(api: Any) -> None:
    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    refused = 0
    for user in CALLERS.values():
        asked = as_(c, user)
        page = await client.get(f"/api/v1/timeline?alert={alert_id}", headers=asked)
        verdict = await client.get(f"/api/v1/timeline/verdict?alert={alert_id}", headers=asked)
        assert verdict.status == page.status, user
        if page.status >= 400:
            refused += 1
            assert await verdict.json() == await page.json(), user
    assert refused >= 2  # a member of staff; another school's people
    for bad in ("alert=nope", "alert=1&visit=2", f"alert={alert_id}&as_of=2026-01-01T00:00:00Z"):
        answer = await client.get(f"/api/v1/timeline/verdict?{bad}", headers=as_(c, "dsl1"))
        assert answer.status == 400, bad
    unsigned = await client.get(f"/api/v1/timeline/verdict?alert={alert_id}")
    assert unsigned.status == 401


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    gate = threading.Event()
    whole = pages.check_whole

    def gated(*args: Any) -> Any:
        assert gate.wait(30), "the test never let the whole check run"
        return whole(*args)

    monkeypatch.setattr(pages, "check_whole", gated)
    yield gate
    gate.set()


async def test_checking_until_the_background_check_is_done(api: Any, held: threading.Event) -> None:
    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    subject = f"alert:{alert_id}"
    checks = checks_of(c.app)
    checks.inline_up_to = 1
    dsl = as_(c, "dsl1")
    try:
        page = await (
            await client.get(f"/api/v1/timeline?alert={alert_id}&limit=1", headers=dsl)
        ).json()
        assert page["integrity"]["checking"] is True
        url = f"/api/v1/timeline/verdict?alert={alert_id}"
        waiting = await (await client.get(url, headers=dsl)).json()
        assert waiting["integrity"] == {"verified": None, "checking": True, "checked_at": None}
        # The outbox may still be recording its sends: the record only grows meanwhile.
        assert waiting["total"] >= page["total"]
        held.set()
        await asyncio.to_thread(checks.wait, subject)
        done = (await (await client.get(url, headers=dsl)).json())["integrity"]
        assert done["verified"] is True and done["checked_at"] is not None
        assert "checking" not in done
        assert await viewings(client, c, subject) == [("dsl:dsl1", "timeline")]
    finally:
        held.set()
        await asyncio.to_thread(checks.wait, subject)
