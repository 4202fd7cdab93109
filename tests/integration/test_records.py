"""The DSL's records: timelines that say whether they verify, states as of an instant,
exports to attach to a safeguarding file, and the trail of who looked."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from tests.console_world import an_sos
from tests.harness import eventually
from tests.integration.test_integrity import tamper
from tests.trust_api import Client, as_, trust_api

Served = tuple[Client, Container, FakeClock]


async def _serve(database_url: str, aiohttp_client: Any) -> AsyncIterator[Served]:
    clock = FakeClock()
    settings = Settings(database_url=database_url)
    async with trust_api(aiohttp_client, settings, clock=clock, every_role=True) as (client, c):
        yield client, c, clock


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Served]:
    async for served in _serve(sqlite_url, aiohttp_client):
        yield served


@pytest.fixture
async def api_on_each_store(database_url: str, aiohttp_client: Any) -> AsyncIterator[Served]:
    """SQLite and PostgreSQL: where the database itself is being altered."""
    async for served in _serve(database_url, aiohttp_client):
        yield served


async def an_incident(client: Any, c: Container, clock: FakeClock) -> str:
    """An SOS; a minute later reception takes it; two minutes after that the DSL resolves it."""
    alert_id = await an_sos(c.app, c.projector, "incident-1")
    clock.advance(timedelta(minutes=1))
    await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=as_(c, "reception1"))
    clock.advance(timedelta(minutes=2))
    await client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        headers=as_(c, "dsl1"),
        json={"outcome": "false_alarm", "note": "pressed in a bag"},
    )
    await asyncio.to_thread(c.projector.catch_up)
    return alert_id


async def test_a_timeline_verifies_and_gives_the_state_after_each_event(api: Any) -> None:
    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    body = await (
        await client.get(f"/api/v1/timeline?alert={alert_id}", headers=as_(c, "dsl1"))
    ).json()
    assert body["integrity"]["verified"] is True and body["integrity"]["problems"] == []
    assert all(row["sealed"] for row in body["events"])
    states = [row["state_after"]["alert"] for row in body["events"]]
    assert states[0] is None  # the device's message comes before the alert it raised
    assert [s["state"] for s in states[1:]][-1] == "resolved"
    assert "acknowledged" in [s["state"] for s in states[1:]]
    assert body["state"]["alert"]["note"] == "pressed in a bag"
    assert body["state"]["alert"]["location"]["lat"] == 51.5412


async def test_an_altered_event_shows_on_the_timeline_and_in_the_export(
    api_on_each_store: Any,
) -> None:
    client, c, clock = api_on_each_store
    alert_id = await an_incident(client, c, clock)
    stored = c.app.recorder.select_events(UUID(alert_id))
    [resolved] = [e for e in stored if b"pressed in a bag" in e.state]  # later events may follow
    tamper(
        c.app,
        UUID(alert_id),
        resolved.originator_version,
        b"pressed in a bag",
        b"she was fine, honest",
    )
    dsl = as_(c, "dsl1")
    body = await (await client.get(f"/api/v1/timeline?alert={alert_id}", headers=dsl)).json()
    assert body["integrity"]["verified"] is False
    assert body["integrity"]["problems"] == [
        {
            "aggregate_id": alert_id,
            "detail": f"version {resolved.originator_version}: its seal does not match its content: the record was altered",
        }
    ]
    altered = [row for row in body["events"] if not row["sealed"]]
    assert [(r["event"], r["data"]["note"]) for r in altered] == [
        ("Alert.Resolved", "she was fine, honest")
    ]
    page = await (
        await client.get(f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=dsl)
    ).text()
    assert "Integrity check FAILED" in page and "✗ altered" in page


async def test_the_alert_as_it_stood_at_any_instant(api: Any) -> None:
    client, c, clock = api
    started = clock.now()
    alert_id = await an_incident(client, c, clock)
    headers = as_(c, "dsl1")

    async def at(offset: timedelta) -> Any:
        instant = (started + offset).isoformat().replace("+00:00", "Z")
        return await client.get(f"/api/v1/alerts/{alert_id}?as_of={instant}", headers=headers)

    before = await at(timedelta(seconds=-1))
    assert before.status == 404 and "had not been raised" in (await before.json())["detail"]
    raised = await (await at(timedelta(seconds=30))).json()
    assert raised["state"] in {"raised", "notified"} and raised["acknowledged_by"] is None
    taken = await (await at(timedelta(minutes=2))).json()
    assert (taken["state"], taken["acknowledged_by"]) == ("acknowledged", "operator:reception1")
    done = await (await at(timedelta(minutes=5))).json()
    assert (done["state"], done["outcome"]) == ("resolved", "false_alarm")
    bad = await client.get(f"/api/v1/alerts/{alert_id}?as_of=yesterday", headers=headers)
    assert bad.status == 400


async def test_exports_are_printable_and_every_viewing_is_in_the_audit_trail(api: Any) -> None:
    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    dsl = as_(c, "dsl1")
    html = await client.get(f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=dsl)
    assert html.status == 200 and html.content_type == "text/html"
    page = await html.text()
    assert "Record verified" in page and "pressed in a bag" in page and "False alarm" in page
    assert "<script" not in page
    exported = await (
        await client.get(f"/api/v1/timeline/export?alert={alert_id}&format=json", headers=dsl)
    ).json()
    assert exported["exported_by"] == "dsl:dsl1" and exported["integrity"]["verified"]
    await client.get(f"/api/v1/timeline?alert={alert_id}", headers=as_(c, "reception1"))
    await asyncio.to_thread(c.projector.catch_up)
    trail = await (await client.get("/api/v1/audit", headers=as_(c, "admin1"))).json()
    seen = [(a["actor"], a["action"], a["subject"]) for a in trail["audit"]]
    subject = f"alert:{alert_id}"
    assert seen[:3] == [
        ("operator:reception1", "timeline", subject),
        ("dsl:dsl1", "export_json", subject),
        ("dsl:dsl1", "export_html", subject),
    ]
    assert [a["who"] for a in trail["audit"][:3]] == [
        "reception1 (contact centre)",
        "dsl1 (DSL)",
        "dsl1 (DSL)",
    ]
    assert exported["access_id"] in [a["id"] for a in trail["audit"]]
    assert all(a["school"] == "lancaster" for a in trail["audit"][:3])


async def test_the_printed_record_reads_as_what_happened_and_keeps_every_row(api: Any) -> None:
    """Names, not ids; the escalation in a sentence; each try and receipt in an appendix,
    numbered in the same sequence, so every recorded event is still printed exactly once."""
    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    dsl = as_(c, "dsl1")
    page = await (
        await client.get(f"/api/v1/timeline/export?alert={alert_id}&format=html", headers=dsl)
    ).text()
    record = await (
        await client.get(f"/api/v1/timeline/export?alert={alert_id}&format=json", headers=dsl)
    ).json()
    sentence = (
        # How many were told before reception took it depends on the dispatcher's pace.
        r"Texted \d (?:person|people)(?: and called \d)?; taken by reception1 \(contact centre\) "
        r"through the API "
        r"after 60 s\."
    )
    assert re.search(sentence, page), page
    found = re.findall(r"(?s).{0,120}operator:reception1.{0,40}", page)
    assert not found, found
    assert "cc-1" not in page and "cc-2" not in page  # contact ids: names instead
    main, _, appendix = page.partition("<h2>Delivery in full</h2>")
    # The JSON was fetched after the page: it may hold a later receipt or two, never fewer.
    numbers = sorted(int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page))
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) <= len(record["events"])
    folded = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", appendix)]
    assert folded and all(record["events"][n - 1]["detail"] for n in folded)
    assert "try 1" in appendix and "try 1" not in main


async def test_an_export_is_made_recorded_and_encoded_off_the_event_loop(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop is shared by every other user's request and the live feed: an export's
    record, its audit row and the encoding of its page or document (300-570 ms of CPU for a
    10,000-event record's JSON) run in the exports pool, and the loop only sends the bytes. Each is
    caught on the thread it ran on (a loop held for milliseconds cannot be asserted by
    time here, but the thread it ran on can)."""
    from service.entrypoints.http import records

    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    threads: list[tuple[str, int]] = []

    class Page(str):
        def encode(self, *args: Any, **kwargs: Any) -> bytes:
            threads.append(("html encoded", threading.get_ident()))
            return super().encode(*args, **kwargs)

    def watched(name: str, fn: Any, wrap: Any = lambda v: v) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            threads.append((name, threading.get_ident()))
            return wrap(fn(*args, **kwargs))

        return call

    monkeypatch.setattr(records, "render_html", watched("html made", records.render_html, Page))
    monkeypatch.setattr(records, "dumps_holding", watched("json encoded", records.dumps_holding))
    monkeypatch.setattr(records, "record_viewing", watched("audit row", records.record_viewing))
    monkeypatch.setattr(records, "incident_record", watched("record", records.incident_record))
    dsl = as_(c, "dsl1")
    for fmt in ("html", "json"):
        answer = await client.get(
            f"/api/v1/timeline/export?alert={alert_id}&format={fmt}", headers=dsl
        )
        assert answer.status == 200 and answer.charset == "utf-8"
        if fmt == "html":
            assert "Record verified" in await answer.text()
        else:
            assert (await answer.json())["integrity"]["verified"]
    loop = threading.get_ident()
    named = sorted({name for name, _ in threads})
    assert named == ["audit row", "html encoded", "html made", "json encoded", "record"]
    on_loop = [name for name, thread in threads if thread == loop]
    assert not on_loop, f"on the event loop: {on_loop}"


async def test_the_collector_stays_paused_from_an_exports_record_to_its_bytes(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10,000-event record's ~10,000 dictionaries, alive between the record and its page,
    counted towards a young collection, which then scanned every young object of the
    process in the export's job (40-78 ms with the memos full of other records;
    docs/performance.md, export13). Nothing made there makes a cycle: the collector stays
    paused from the record to the bytes (its audit row written meanwhile), and comes back on
    once the record and its page are let go, as it was before."""
    import gc

    from service.entrypoints.http import records

    client, c, clock = api
    alert_id = await an_incident(client, c, clock)
    seen: list[tuple[str, bool]] = []

    def watched(name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append((f"{name}, before", gc.isenabled()))
            made = fn(*args, **kwargs)
            seen.append((f"{name}, after", gc.isenabled()))
            return made

        return call

    monkeypatch.setattr(records, "incident_record", watched("record", records.incident_record))
    monkeypatch.setattr(records, "record_viewing", watched("audit row", records.record_viewing))
    monkeypatch.setattr(records, "render_html", watched("page", records.render_html))
    monkeypatch.setattr(records, "dumps_holding", watched("json", records.dumps_holding))
    dsl = as_(c, "dsl1")
    # The app's own rounds (woken by the incident, then by each export's audit row) pause
    # the collector too, in their threads: it is on once every pause in force has ended.
    back_on = "the collector back on once every pause has ended"
    await eventually(gc.isenabled, what=back_on)
    for fmt in ("html", "json"):
        answer = await client.get(
            f"/api/v1/timeline/export?alert={alert_id}&format={fmt}", headers=dsl
        )
        assert answer.status == 200
    on = [name for name, enabled in seen if enabled]
    assert len(seen) == 12 and not on, f"the collector on: {on}"
    await eventually(gc.isenabled, what=back_on)
