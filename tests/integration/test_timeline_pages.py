"""A long timeline comes in pages: the pages, read one after another, are the whole record,
row for row (the state after each, its words, its seal), as of any instant; the verdict and
the current state are the whole record's on every page, which says when that was checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.devices.messages import DeviceMessage
from tests.integration.test_records import Served
from tests.trust_api import as_, trust_api

HEARTBEATS = 23


@pytest.fixture
async def api(sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[Served]:
    clock = FakeClock()
    # Many small pages from one client: more than a person's clicks would ever be.
    settings = Settings(database_url=sqlite_url, api_rate_limit="1000/second")
    async with trust_api(aiohttp_client, settings, clock=clock, every_role=True) as (client, c):
        yield client, c, clock


def heartbeats(c: Container, clock: FakeClock, device: str, count: int) -> None:
    """`count` heartbeats of `device`, a second apart, interleaved with another device's."""
    doc = c.views.get("device", device)
    assert doc is not None
    for n in range(count):
        clock.advance(timedelta(seconds=1))
        c.app.save(
            *(
                DeviceMessage(
                    device=name,
                    kind="heartbeat",
                    message_id=None,
                    device_ts=None,
                    fields={"battery": 90 - n, "seq": n},
                    school=str(doc["school"]),
                    staff=str(doc["staff"]),
                    timestamp=clock.now(),
                )
                for name in (device, "another-device")
            )
        )
    c.projector.catch_up()


async def _get(client: Any, headers: dict[str, str], query: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/timeline?{query}", headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _pages(client: Any, headers: dict[str, str], query: str, size: int) -> list[Any]:
    rows: list[Any] = []
    after = 0
    while True:
        page = await _get(client, headers, f"{query}&limit={size}&after={after}")
        assert len(page["events"]) <= size
        rows += page["events"]
        if page["next_after"] is None:
            return rows
        assert len(page["events"]) == size
        after = page["next_after"]


async def test_pages_read_in_turn_are_the_whole_record(api: Any) -> None:
    client, c, clock = api
    await asyncio.to_thread(heartbeats, c, clock, "sos-0001", HEARTBEATS)
    dsl = as_(c, "dsl1")
    middle = (clock.now() - timedelta(seconds=HEARTBEATS // 2)).isoformat()
    for query in ("device=sos-0001", f"device=sos-0001&as_of={middle}"):
        q = query.replace("+", "%2B")
        whole = await _get(client, dsl, f"{q}&limit=all")
        assert whole["next_after"] is None and whole["total"] == len(whole["events"]) > 0
        for size in (1, 2, 5, 10, len(whole["events"]) - 1, len(whole["events"]), 500):
            assert await _pages(client, dsl, q, size) == whole["events"], size
        first = await _get(client, dsl, f"{q}&limit=3")
        assert first["total"] == whole["total"]
        assert first["state"] == whole["state"]  # the subject as it stands, not at row 3
        # The whole record's verdict, saying when that whole check was made (a page may
        # be served from it: service/records/pages.py), with the last seals of the streams
        # of its own rows (the whole record's, in limit=all and the export).
        checked_at = first["integrity"].pop("checked_at")
        heads = first["integrity"].pop("heads")
        assert heads == {
            row["aggregate_id"]: whole["integrity"]["heads"][row["aggregate_id"]]
            for row in first["events"]
        }
        assert (
            first["integrity"] == {k: v for k, v in whole["integrity"].items() if k != "heads"}
            and "checked_at" not in whole["integrity"]
        )
        assert checked_at == clock.now().isoformat()


async def test_a_timeline_without_a_limit_is_a_page_and_a_bad_page_is_refused(api: Any) -> None:
    client, c, clock = api
    await asyncio.to_thread(heartbeats, c, clock, "sos-0001", 3)
    dsl = as_(c, "dsl1")
    body = await _get(client, dsl, "device=sos-0001")
    assert body["next_after"] is None and body["limit"] == 500
    assert len(body["events"]) == body["total"] == 3
    for bad in ("limit=0", "limit=-1", "limit=10001", "limit=lots", "after=x", "after=-3"):
        response = await client.get(f"/api/v1/timeline?device=sos-0001&{bad}", headers=dsl)
        assert response.status == 400, bad


async def test_a_cold_page_starts_its_whole_check_once_it_is_sent(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long record's cold first page (or one as of an instant) hands the whole check to
    the worker, which starts once the handler has written the page out (`release`), not on
    a timer that can fire while the page is still being worded and sent; and the page is
    the one sent whole, as before."""
    from service.entrypoints.http import records as http_records
    from service.records import pages
    from service.records.record_cache import cache_of
    from service.records.whole_checks import _CHECKS, WholeChecks

    client, c, clock = api
    await asyncio.to_thread(heartbeats, c, clock, "sos-0001", HEARTBEATS)
    dsl = as_(c, "dsl1")
    # Held for ten minutes unless the handler releases it: a check that runs here was let go.
    monkeypatch.setattr(http_records, "HELD_SECONDS", 600.0)
    _CHECKS[c.app] = WholeChecks(inline_up_to=5)
    began: list[bool] = []
    whole = pages.check_whole

    def checking(*args: Any) -> Any:
        began.append(True)
        return whole(*args)

    monkeypatch.setattr(pages, "check_whole", checking)
    # (An instant's cold page hands its check over by the same call, `pages._first_page`;
    # a record this short is checked whole for any instant: `instant_cut.MARGIN`.)
    for query in ("device=sos-0001&limit=3", "device=sos-0001&limit=3&after=0"):
        cache_of(c.app).drop("device:sos-0001")
        began.clear()
        page = await _get(client, dsl, query)
        assert page["integrity"]["verified"] is None, page["integrity"]  # "checking"
        await asyncio.to_thread(_finish, c)
        assert began == [True], query


def _finish(c: Container) -> None:
    """Until the check in hand for the subject is done, without starting it (a `wait`
    would let it go): polled, as the console polls for the verdict."""
    import time

    from service.records.whole_checks import checks_of

    checks = checks_of(c.app)
    deadline = time.monotonic() + 20
    while checks.running("device:sos-0001") and time.monotonic() < deadline:
        time.sleep(0.01)
