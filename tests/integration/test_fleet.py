"""`lonewatch simulate directory` and `simulate fleet`: a small fleet, end to end; and the
benchmarks' flood, on the gateway's topics."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_gateway.messages import DeviceReading, device_topic_filter, parse_device_message
from service.adapters.directory_file import load_directory
from service.bootstrap import Container
from service.config import Settings
from simulators.fleet import Progress, flood, run_fleet
from simulators.fleet_directory import fleet_directory_yaml
from simulators.mqtt_asyncio import AsyncMqtt
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.harness import REPO, eventually, forget_session, service_in_process

DEVICES = 20


def test_the_fleet_directory_is_the_demo_one_plus_the_fleet(tmp_path: Path) -> None:
    text = fleet_directory_yaml((REPO / "deploy" / "demo-directory.yaml").read_text(), 3)
    (tmp_path / "fleet.yaml").write_text(text)
    directory = load_directory(tmp_path / "fleet.yaml")
    ids = [d.id for d in directory.devices]
    assert ids[-3:] == ["fleet-0001", "fleet-0002", "fleet-0003"]
    assert "sos-0001" in ids and len({d.secret for d in directory.devices}) == len(ids)


@pytest.fixture
async def service(
    tmp_path: Path, topic_prefix: str, run_id: str, mosquitto_url: str
) -> AsyncIterator[Container]:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        fleet_directory_yaml((REPO / "deploy" / "demo-directory.yaml").read_text(), DEVICES)
    )
    client_id = f"lw-gw-{run_id}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    async with service_in_process(settings) as container:
        container.app.import_directory(load_directory(path))
        yield container
    forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


async def test_a_fleet_heartbeats_and_every_beat_is_recorded(
    service: Container, topic_prefix: str
) -> None:
    bar = io.StringIO()
    summary = await asyncio.to_thread(
        run_fleet,
        host=MOSQUITTO_HOST,
        port=MOSQUITTO_PORT,
        devices=DEVICES,
        rate=100,
        duration=1.0,
        prefix=topic_prefix,
        progress=Progress(1.0, stream=bar),
    )
    assert summary.connections == DEVICES
    assert summary.published >= DEVICES and summary.acked == summary.published
    assert "sent" in bar.getvalue() and "#" in bar.getvalue()
    await eventually(
        lambda: service.gateway.stats["kind:heartbeat"] == summary.published,
        what="every heartbeat recorded",
    )
    assert service.gateway.stats["rejected:unknown_device"] == 0


async def test_a_flood_publishes_heartbeats_the_gateway_reads(topic_prefix: str) -> None:
    """The flood (ingest and SOS benchmarks) sends on the gateway's own topics: every
    message the broker took is a heartbeat `parse_device_message` accepts."""
    heard: list[tuple[str, bytes]] = []
    listener = await AsyncMqtt.connect(MOSQUITTO_HOST, MOSQUITTO_PORT, f"sim-{topic_prefix[:-1]}")
    listener.on_message = lambda topic, payload: heard.append((topic, payload))
    try:
        await listener.subscribe(device_topic_filter(topic_prefix))
        report = await flood(
            MOSQUITTO_HOST,
            MOSQUITTO_PORT,
            devices=5,
            duration=0.5,
            connections=2,
            rate=200,
            prefix=topic_prefix,
            run=topic_prefix[:-1],
        )
        assert report.acked == report.published > 0 and report.failed == 0
        await eventually(lambda: len(heard) >= report.acked, what="every message delivered")
    finally:
        listener.close()
    readings = [parse_device_message(t, p, prefix=topic_prefix) for t, p in heard]
    assert all(isinstance(r, DeviceReading) and r.kind == "heartbeat" for r in readings)
    assert {r.device_id for r in readings if isinstance(r, DeviceReading)} == {
        f"bench-{i:05d}" for i in range(5)
    }
