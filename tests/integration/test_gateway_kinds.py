"""Every kind of device message over a real broker, with what the device gets back."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import eventually
from tests.integration.test_gateway import alert_docs, running_service

__all__ = ["running_service"]


def device_doc(container: Any) -> dict[str, Any]:
    return container.views.get("device", "sos-0001") or {}


async def test_every_kind_is_recorded(running_service: Any) -> None:
    container, device, _ = running_service
    await device.send("heartbeat", {"id": "k-1", "battery": 81})
    await device.send("checkin", {"id": "k-2"})
    await device.send("battery", {"id": "k-3", "battery": 15})
    await device.send("location", {"id": "k-4", "lat": 51.54, "lon": 0.71, "acc": 12})
    await device.send("message", {"id": "k-5", "text": "Parking now"})
    await device.send("fall", {"id": "k-6"})
    await device.send("sos", b"")
    await eventually(lambda: container.gateway.stats["recorded"] == 7, what="seven recorded")
    await eventually(
        lambda: sum(device_doc(container).get("counts", {}).values()) == 7, what="device view"
    )
    doc = device_doc(container)
    assert doc["counts"] == {
        kind: 1
        for kind in ("heartbeat", "checkin", "battery", "location", "message", "fall", "sos")
    }
    assert (doc["battery"], doc["low_battery"]) == (15, True)
    assert doc["location"]["lat"] == 51.54
    await eventually(lambda: len(device.commands) == 2, what="alert_received for fall and sos")
    assert {c["type"] for c in device.commands} == {"alert_received"}
    await eventually(lambda: len(alert_docs(container)) == 2, what="two alerts")
    assert {a["kind"] for a in alert_docs(container)} == {"fall", "sos"}


async def test_an_sos_with_a_bad_battery_still_raises_the_alarm(running_service: Any) -> None:
    """Safety decision: a bad optional field never stops an alarm."""
    container, device, _ = running_service
    await device.send("sos", {"id": "p-1", "battery": "full"})
    await eventually(lambda: device.commands, what="alert_received")
    assert container.gateway.stats["rejected_fields"] == 1
    assert container.gateway.stats["rejected:bad_field"] == 0


async def test_a_duress_text_raises_a_silent_alert_and_the_phone_hears_nothing(
    running_service: Any,
) -> None:
    container, device, notifier = running_service
    await device.send("message", {"id": "t-1", "text": "Fine thanks, bluebird"})
    await device.send("message", {"id": "t-2", "text": "Leaving now"})
    await eventually(lambda: container.gateway.stats["kind:message"] == 2, what="two texts")
    (alert,) = await eventually(lambda: alert_docs(container), what="the duress alert")
    assert (alert["kind"], alert["silent"]) == ("duress", True)
    await eventually(lambda: len(notifier.sent) == 2, what="tier 1 told")
    await asyncio.sleep(0.3)
    assert device.commands == [], "nothing goes back to the phone for duress"
    assert "duress" not in str(dict(container.gateway.stats))


async def test_a_stuck_sos_raises_one_alert(running_service: Any) -> None:
    container, device, _ = running_service
    for n in range(20):
        await device.send("sos", {"id": f"stuck-{n}"})
    await eventually(lambda: len(device.commands) == 20, what="every press answered")
    assert len({c["alert_id"] for c in device.commands}) == 1
    # The views follow the commit; the answers can come first (one read per alarm group).
    await eventually(lambda: alert_docs(container), what="the alert in the views")
    assert len(alert_docs(container)) == 1
    assert container.gateway.stats["pressed_again"] == 19
