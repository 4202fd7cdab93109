"""The JSON API and its live stream, on both stores, through a real HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.config import Settings
from service.container import Container
from tests.console_world import devices
from tests.harness import eventually, sse_events
from tests.trust_api import Api, as_, trust_api


@pytest.fixture
async def api(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, Settings(database_url=database_url)) as it:
        yield it


async def an_sos(container: Container, message_id: str = "m1") -> str:
    recorded = await asyncio.to_thread(devices(container).press, "sos-0001", message_id)
    await asyncio.to_thread(container.projector.catch_up)
    return str(recorded.alert_id)


async def test_requests_without_a_valid_token_get_401(api: Any) -> None:
    client, _ = api
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = await client.get("/api/v1/alerts", headers=headers)
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert "token" in (await response.json())["detail"]
    assert (await client.get("/api/v1/health")).status == 200


async def test_the_feed_lists_open_alerts_of_the_callers_school_only(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container)
    mine = await (
        await client.get("/api/v1/alerts?state=open", headers=as_(container, "reception1"))
    ).json()
    assert [a["id"] for a in mine["alerts"]] == [alert_id]
    other = as_(container, "kreception")
    theirs = await (await client.get("/api/v1/alerts", headers=other)).json()
    assert theirs["alerts"] == []
    assert (await client.get(f"/api/v1/alerts/{alert_id}", headers=other)).status == 404
    assert (
        await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=other)
    ).status == 404


async def test_acknowledge_then_resolve_with_outcome_and_note(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container)
    headers = as_(container, "reception1")
    taken = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers)
    assert taken.status == 200
    assert (await taken.json())["acknowledged_by"] == "operator:reception1"
    again = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers)
    assert (
        again.status == 409
        and "already acknowledged by reception1 (contact centre)" in (await again.json())["detail"]
    )
    no_note = await client.post(
        f"/api/v1/alerts/{alert_id}/resolve", headers=headers, json={"outcome": "safe"}
    )
    assert no_note.status == 400
    bad_outcome = await client.post(
        f"/api/v1/alerts/{alert_id}/resolve", headers=headers, json={"outcome": "fine", "note": "x"}
    )
    assert bad_outcome.status == 422 and "false_alarm" in (await bad_outcome.json())["detail"]
    done = await client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        headers=headers,
        json={"outcome": "false_alarm", "note": "pressed in a bag"},
    )
    assert done.status == 200
    body = await done.json()
    assert (body["state"], body["outcome"], body["note"]) == (
        "resolved",
        "false_alarm",
        "pressed in a bag",
    )


async def test_staff_cannot_take_alerts(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container)
    response = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers=as_(container, "teacher1")
    )
    assert response.status == 403


async def test_bad_ids_and_queries_get_4xx_not_500(api: Any) -> None:
    client, container = api
    headers = as_(container, "reception1")
    assert (await client.get("/api/v1/alerts/not-a-uuid", headers=headers)).status == 400
    assert (await client.get("/api/v1/alerts?state=sleeping", headers=headers)).status == 400
    assert (await client.get("/api/v1/timeline", headers=headers)).status == 400
    assert (await client.get("/api/v1/timeline?alert=x&device=y", headers=headers)).status == 400
    response = await client.post(
        f"/api/v1/alerts/{await an_sos(container)}/resolve", headers=headers, data=b"{"
    )
    assert response.status == 400


async def test_the_timeline_shows_the_recorded_events_in_order(api: Any) -> None:
    client, container = api
    alert_id = await an_sos(container)
    headers = as_(container, "dsl1")
    await client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        headers=headers,
        json={"outcome": "safe", "note": "called back, all fine"},
    )
    body = await (await client.get(f"/api/v1/timeline?alert={alert_id}", headers=headers)).json()
    events = [e["event"] for e in body["events"]]
    assert events[:2] == ["DeviceMessage.Received", "Alert.Raised"]
    tier1_texts = [
        e
        for e in body["events"]
        if e["event"] == "Notification.Requested"
        and (e["data"]["step"], e["data"]["channel"]) == ("tier1", "sms")
    ]
    assert len(tier1_texts) == 2  # calls and "who took it" texts follow (the escalation ladder)
    # Notifications may still be going out while the DSL resolves: order, not adjacency.
    assert (
        events.index("Alert.Raised")
        < events.index("Alert.Acknowledged")
        < events.index("Alert.Resolved")
    )
    positions = [e["position"] for e in body["events"]]
    assert positions == sorted(positions)
    assert body["events"][events.index("Alert.Resolved")]["source"] == "dsl:dsl1"


async def test_the_stream_delivers_a_new_alert_live(api: Any) -> None:
    client, container = api
    headers = as_(container, "reception1")
    response = await client.get("/api/v1/stream", headers=headers)
    assert response.status == 200 and response.content_type == "text/event-stream"
    received: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        async for pair in sse_events(response.content):
            received.append(pair)

    reader = asyncio.create_task(read())
    await eventually(lambda: any(e == "hello" for e, _ in received), what="stream hello")
    # an_sos applies the views itself, as an API handler does: the live views must
    # still publish what someone else applied.
    alert_id = await an_sos(container, "live-1")
    found = await eventually(
        lambda: [d for e, d in received if e == "alert" and d["id"] == alert_id],
        what="the alert on the stream",
    )
    assert found[0]["kind"] == "sos"
    reader.cancel()
    response.close()
