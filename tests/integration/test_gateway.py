"""The gateway on real brokers: Mosquitto with PostgreSQL, and the embedded pair (amqtt, SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.adapters.notifiers.console_notifier import ConsoleNotifier
from service.config import Settings
from service.container import Container
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.harness import Device, eventually, forget_session, service_in_process


@pytest.fixture(params=["mosquitto+postgres", "embedded+sqlite"])
async def running_service(
    request: pytest.FixtureRequest, tmp_path: Path, topic_prefix: str, run_id: str
) -> AsyncIterator[tuple[Container, Device, ConsoleNotifier]]:
    client_id = f"lw-gw-{run_id}"
    if request.param == "mosquitto+postgres":
        mqtt_url = request.getfixturevalue("mosquitto_url")
        settings = Settings(
            database_url=request.getfixturevalue("postgres_url"),
            mqtt_url=mqtt_url,
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=client_id,
        )
        host, port = MOSQUITTO_HOST, MOSQUITTO_PORT
    else:
        port = free_port()
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'ev.sqlite3'}",
            mqtt_url="embedded",
            embedded_mqtt_port=port,
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=client_id,
        )
        host = "127.0.0.1"
    notifier = ConsoleNotifier()
    async with service_in_process(settings, notifier=notifier) as container:
        device = await Device.connect(host, port, topic_prefix, "sos-0001", f"dev-{run_id}")
        try:
            yield container, device, notifier
        finally:
            device.close()
    if request.param == "mosquitto+postgres":
        forget_session(host, port, client_id)


def alert_docs(container: Container) -> list[dict[str, Any]]:
    return container.views.find("alert")


async def test_an_sos_is_recorded_answered_and_notified(running_service: Any) -> None:
    container, device, notifier = running_service
    await device.send("sos", {"id": "press-1"})
    command = await eventually(lambda: device.commands, what="alert_received on the cmd topic")
    assert command[0]["type"] == "alert_received"
    alert = await eventually(lambda: alert_docs(container), what="the alert in the view")
    assert alert[0]["id"] == command[0]["alert_id"]
    await eventually(lambda: len(notifier.sent) == 2, what="two tier-1 SMS")
    assert {m["to"] for m in notifier.sent} == {"+441702000010", "+441702000014"}


async def test_a_duplicate_is_recorded_once_and_answered_again(running_service: Any) -> None:
    container, device, _ = running_service
    for _ in range(2):
        await device.send("sos", {"id": "press-7"})
        await device.send("heartbeat", {"id": "hb-7", "battery": 80})
    await eventually(lambda: len(device.commands) == 2, what="alert_received for both copies")
    assert device.commands[0] == device.commands[1]
    await eventually(lambda: container.gateway.stats["duplicates"] == 2, what="two duplicates")
    await eventually(
        lambda: (
            (container.views.get("device", "sos-0001") or {}).get("counts")
            == {"sos": 1, "heartbeat": 1}
        ),
        what="one sos and one heartbeat recorded",
    )
    assert len(alert_docs(container)) == 1


async def test_bad_input_is_refused_with_a_reason_and_valid_traffic_continues(
    running_service: Any,
) -> None:
    container, device, _ = running_service
    await device.send("sos", b"{not json")
    await device.send("sos", b"\xff\xfe")
    await device.send("sos", b"[]")
    await device.send("sos", b"{" + b" " * 5000 + b"}")
    await device.send("heartbeat", {"battery": "full"})
    await device.send("teleport", {})
    await device.send("sos", {}, device="not-in-directory")
    await device.send("heartbeat", {"id": "after-the-bad-ones"})
    await eventually(lambda: container.gateway.stats["recorded"] == 1, what="the valid heartbeat")
    stats = container.gateway.stats
    for reason in (
        "bad_json",
        "bad_encoding",
        "not_an_object",
        "oversize",
        "bad_field",
        "unknown_kind",
        "unknown_device",
    ):
        assert stats[f"rejected:{reason}"] == 1, (reason, dict(stats))
    assert alert_docs(container) == []
