"""`lonewatch simulate directory` and `simulate fleet`: a small fleet, end to end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.adapters.directory_file import load_directory
from service.bootstrap import Container
from service.config import Settings
from simulators.fleet import Progress, run_fleet
from simulators.fleet_directory import fleet_directory_yaml
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
