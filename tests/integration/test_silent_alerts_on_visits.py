"""A silent alert is silent by its flag, whatever its kind: the visitor reading their own
visit is never shown it, over HTTP or on the live stream, on either store.

"nothing reaches the visitor on duress": a visitor's phone may be in someone else's hands,
so no page they open may say their alarm was raised silently. The flag (`silent`) is what
the alert recorded; an SOS can be silent too (its message also held the safe word), and it
must not show as "SOS open" on the visitor's row while reception sees it at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from projections.projector import Projector
from projections.store import ViewStore, open_view_store
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.alerts.alert import AlertKind
from tests.console_world import devices
from tests.harness import eventually, sse_events
from tests.trust_api import Api, Client, a_plan, act, as_, trust_api
from tests.visit_worlds import MONDAY
from tests.visit_worlds import VISITS_DIRECTORY as VISITS


@pytest.fixture
async def api(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=database_url)
    async with trust_api(aiohttp_client, settings, clock=FakeClock(MONDAY), directory=VISITS) as it:
        yield it


async def a_visit_at_the_home(client: Client, c: Container) -> str:
    """s-jones, alone at the pupil's home."""
    staff, dsl = as_(c, "s-jones"), as_(c, "dsl1")
    planned = await client.post("/api/v1/visits", json=a_plan(), headers=dsl)
    assert planned.status == 201, await planned.text()
    vid = str((await planned.json())["id"])
    for action, who in (("authorise", dsl), ("depart", staff), ("arrive", staff)):
        if action == "depart":  # their SOS device heard from, as the plan requires
            await asyncio.to_thread(devices(c).heartbeat, "sos-0001", 90)
            await asyncio.to_thread(c.projector.catch_up)
        response = await act(client, vid, action, who)
        assert response.status == 200, (action, await response.text())
    await asyncio.to_thread(c.projector.catch_up)
    return vid


def raised(c: Container, kind: AlertKind, key: str, *, silent: bool) -> None:
    """An alert about s-jones (their visit named in its cause, as every alarm's is)."""
    c.app.raise_staff_alert("s-jones", kind, cause_key=key, cause={"via": "test"}, silent=silent)
    c.projector.catch_up()


async def stream_of(client: Client, who: dict[str, str]) -> tuple[list[Any], asyncio.Task[None]]:
    stream = await client.get("/api/v1/stream", headers=who)
    assert stream.status == 200
    received: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        async for pair in sse_events(stream.content):
            received.append(pair)

    reader = asyncio.create_task(read())
    await eventually(lambda: any(e == "hello" for e, _ in received), what="stream hello")
    return received, reader


def alerts_on(received: list[Any], vid: str) -> list[list[dict[str, Any]]]:
    return [d.get("alerts", []) for e, d in received if e == "visit" and d.get("id") == vid]


async def board_row(client: Client, who: dict[str, str], vid: str) -> dict[str, Any]:
    """The visit's row on the board as `who` reads it (GET /api/v1/visits)."""
    response = await client.get("/api/v1/visits", headers=who)
    assert response.status == 200, await response.text()
    [row] = [d for d in (await response.json())["visits"] if d["id"] == vid]
    return dict(row)


def rebuilt_views(c: Container, where: Path) -> ViewStore:
    views = open_view_store(f"sqlite:///{where / 'rebuilt.views.sqlite3'}")
    Projector(c.app.recorder, c.app.mapper, views).rebuild(batch_size=3)
    return views


async def test_a_silent_sos_is_not_shown_to_the_visitor_but_is_to_reception(
    api: Api, tmp_path: Path
) -> None:
    """An SOS recorded silent (its message also held the safe word) is silent by its flag:
    reception sees it on the row and live; the visitor's row shows no alert at all."""
    client, c = api
    visitor, desk = as_(c, "s-jones"), as_(c, "reception1")
    vid = await a_visit_at_the_home(client, c)
    seen_by_desk, desk_reader = await stream_of(client, desk)
    try:
        await asyncio.to_thread(raised, c, AlertKind.SOS, "test:silent-sos", silent=True)
        await eventually(lambda: any(alerts_on(seen_by_desk, vid)), what="the alert, live")
    finally:
        desk_reader.cancel()
    assert [(a["kind"], a["silent"]) for a in alerts_on(seen_by_desk, vid)[-1]] == [("sos", True)]
    theirs = await board_row(client, desk, vid)
    assert [(a["kind"], a["silent"]) for a in theirs["alerts"]] == [("sos", True)]

    mine = await board_row(client, visitor, vid)
    assert mine["alerts"] == []
    assert '"sos"' not in json.dumps(mine).lower()
    # views rebuilt from the events (a new store: the running service's own keeps going)
    # give the same row, silent flag and all
    rebuilt = await asyncio.to_thread(rebuilt_views, c, tmp_path)
    try:
        assert rebuilt.get("visit", vid) == c.views.get("visit", vid)
    finally:
        rebuilt.close()
    # the visitor has no live stream to be shown it on: the board is theirs only by polling
    assert (await client.get("/api/v1/stream", headers=visitor)).status == 403


async def test_an_sos_that_is_not_silent_is_shown_to_the_visitor(api: Api) -> None:
    client, c = api
    visitor = as_(c, "s-jones")
    vid = await a_visit_at_the_home(client, c)
    await asyncio.to_thread(raised, c, AlertKind.SOS, "test:loud-sos", silent=False)
    mine = await board_row(client, visitor, vid)
    assert [(a["kind"], a["silent"]) for a in mine["alerts"]] == [("sos", False)]
