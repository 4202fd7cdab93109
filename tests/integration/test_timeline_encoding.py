"""A timeline page is encoded the fast way (msgspec) and reads back as it always did: its
times told as `isoformat` tells them (`+00:00`, not msgspec's `Z`), so `dumps` does not
fall back to the standard library's encoder for every page (docs/performance.md, asof4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from projections import doc_text
from tests.integration.test_timeline_pages import api, heartbeats
from tests.trust_api import as_

__all__ = ["api"]


async def test_a_page_goes_the_fast_way_and_tells_its_times_as_before(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, c, clock = api
    await asyncio.to_thread(heartbeats, c, clock, "sos-0001", 5)
    slow: list[Any] = []
    encode = doc_text._json_encode

    def spied(doc: Any) -> str:
        slow.append(doc)
        return encode(doc)

    monkeypatch.setattr(doc_text, "_json_encode", spied)
    as_of = clock.now().isoformat()
    for query in ("device=sos-0001", f"device=sos-0001&as_of={as_of.replace('+', '%2B')}"):
        response = await client.get(f"/api/v1/timeline?{query}", headers=as_(c, "dsl1"))
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["events"]
        for row in body["events"]:
            assert row["recorded_at"].endswith("+00:00"), row["recorded_at"]
        if "as_of" in query:
            assert body["as_of"] == as_of
        assert body["integrity"]["checked_at"] == clock.now().isoformat()
    assert not [doc for doc in slow if isinstance(doc, dict) and "events" in doc]
