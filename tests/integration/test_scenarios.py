"""Every device scenario of `lonewatch simulate scenario`, against the real gateway on
Mosquitto: what the device sees, and what was recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.bootstrap import Container
from service.config import Settings
from simulators.scenarios import SCENARIOS, ScenarioRun
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.harness import eventually, forget_session, service_in_process


@pytest.fixture
async def service(
    tmp_path: Path, topic_prefix: str, run_id: str, mosquitto_url: str
) -> AsyncIterator[tuple[Container, ScenarioRun]]:
    client_id = f"lw-gw-{run_id}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    run = ScenarioRun(host=MOSQUITTO_HOST, port=MOSQUITTO_PORT, prefix=topic_prefix, quiet=0.5)
    async with service_in_process(settings) as container:
        yield container, run
    forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


async def play(service: tuple[Container, ScenarioRun], name: str) -> tuple[Container, Any]:
    container, run = service
    result = await asyncio.to_thread(SCENARIOS[name], run)
    assert result.ok, "\n".join(result.lines())
    return container, result


def stat(container: Container, key: str) -> int:
    return container.gateway.stats[key]


def alerts(container: Container) -> list[dict[str, Any]]:
    return container.views.find("alert")


async def test_sos_during_visit(service: Any) -> None:
    container, _ = await play(service, "sos-during-visit")
    await eventually(lambda: alerts(container), what="the SOS alert")
    # The SOS has a lane of its own at the gateway: it may be recorded before the check-in.
    await eventually(lambda: stat(container, "kind:checkin") == 1, what="the check-in")


async def test_fall(service: Any) -> None:
    container, _ = await play(service, "fall")
    (alert,) = await eventually(lambda: alerts(container), what="the fall alert")
    assert (alert["kind"], alert["severity"]) == ("fall", "red")


async def test_duress_text(service: Any) -> None:
    container, _ = await play(service, "duress-text")
    (alert,) = await eventually(lambda: alerts(container), what="the duress alert")
    assert (alert["kind"], alert["silent"]) == ("duress", True)


async def test_device_goes_silent(service: Any) -> None:
    container, _ = await play(service, "device-goes-silent")
    await eventually(lambda: stat(container, "kind:heartbeat") == 3, what="three heartbeats")


async def test_battery_runs_down(service: Any) -> None:
    container, _ = await play(service, "battery-runs-down")
    await eventually(
        lambda: (container.views.get("device", "sos-0001") or {}).get("battery") == 5,
        what="the last reading in the device view",
    )
    assert (container.views.get("device", "sos-0001") or {})["low_battery"] is True


async def test_duplicate_deliveries(service: Any) -> None:
    container, _ = await play(service, "duplicate-deliveries")
    await eventually(lambda: stat(container, "duplicates") == 4, what="four duplicates")
    assert stat(container, "recorded") == 2
    assert len(alerts(container)) == 1


async def test_malformed_messages(service: Any) -> None:
    container, _ = await play(service, "malformed-messages")
    await eventually(lambda: stat(container, "recorded") == 1, what="the valid heartbeat")
    for reason in (
        "bad_json",
        "bad_encoding",
        "not_an_object",
        "oversize",
        "bad_field",
        "unknown_kind",
    ):
        assert stat(container, f"rejected:{reason}") == 1, reason


async def test_clock_skewed_device(service: Any) -> None:
    container, _ = await play(service, "clock-skewed-device")
    await eventually(lambda: stat(container, "clock_skew") == 2, what="two flagged")

    def skew() -> float:  # the device view follows the store a moment later
        return float((container.views.get("device", "sos-0001") or {}).get("clock_skew_seconds", 0))

    await eventually(lambda: skew() != 0, what="the skew in the device view")
    assert 7000 < skew() < 7400
