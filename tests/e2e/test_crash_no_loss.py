"""A message the broker accepted is recorded once, even if the service is killed mid-stream.

The service acknowledges to the broker only after commit; its session is
persistent, so what was in flight or queued while it was dead comes back when
it restarts, and the store's uniqueness on (device, id) records repeats once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import pytest

from service.adapters.event_store import eventsourcing_env
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.harness import Device, cli, eventually, forget_session, service_process
from tests.worlds import DIRECTORY

MESSAGES = 600


class Recorded:
    """Reads what the service recorded, without creating tables (the service does that)."""

    def __init__(self, database_url: str) -> None:
        from service.application.lonewatch import Lonewatch
        from service.clock import SystemClock

        # The service's own application class: on PostgreSQL its tables are named after it.
        env = {**eventsourcing_env(database_url), "CREATE_TABLE": "n"}
        self.app = Lonewatch(env, SystemClock())

    def heartbeat_ids(self) -> list[str]:
        ids: list[str] = []
        start = 0
        while True:
            batch = self.app.recorder.select_notifications(
                start=start, limit=5000, inclusive_of_start=False
            )
            if not batch:
                return ids
            for n in batch:
                if n.topic.endswith("DeviceMessage.Received"):
                    event = self.app.mapper.to_domain_event(n)
                    if event.kind == "heartbeat":  # type: ignore[attr-defined]
                        ids.append(event.message_id)  # type: ignore[attr-defined]
            start = batch[-1].id

    def close(self) -> None:
        self.app.close()


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
async def test_sigkill_mid_stream_loses_nothing_and_records_nothing_twice(
    store: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    mosquitto_url: str,
    topic_prefix: str,
    run_id: str,
) -> None:
    database_url = (
        request.getfixturevalue("postgres_url")
        if store == "postgres"
        else f"sqlite:///{tmp_path / 'events.sqlite3'}"
    )
    env = {
        "LW_DATABASE_URL": database_url,
        "LW_MQTT_URL": mosquitto_url,
        "LW_MQTT_TOPIC_PREFIX": topic_prefix,
        "LW_MQTT_CLIENT_ID": f"lw-crash-{run_id}",
        "LW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    cli(env, "directory", "import", str(DIRECTORY))
    log = tmp_path / "service.log"
    device = await Device.connect(
        MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, "sos-0001", f"fob-{run_id}"
    )
    published: list[str] = []
    halfway = threading.Event()

    def publish_all() -> None:
        for i in range(MESSAGES):
            device.publish("heartbeat", {"id": f"hb-{i}", "battery": 90})  # returns after PUBACK
            published.append(f"hb-{i}")
            if i == MESSAGES // 3:
                halfway.set()

    try:
        with service_process(env, log) as first:
            # The main session (the alarm session, "<id>-alarm", connects first).
            main = f'"client_id": "{env["LW_MQTT_CLIENT_ID"]}"'
            await eventually(
                lambda: any(
                    main in line and "mqtt_connected" in line
                    for line in log.read_text().splitlines()
                ),
                30,
                "first service connected",
            )
            publisher = asyncio.create_task(asyncio.to_thread(publish_all))
            await asyncio.to_thread(halfway.wait, 30)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        await publisher  # the rest is accepted by the broker while the service is dead
        reader = Recorded(database_url)
        before_restart = len(reader.heartbeat_ids())
        assert before_restart < MESSAGES, "the kill came too late to test anything"
        with service_process(env, log):
            try:
                await eventually(
                    lambda: len(reader.heartbeat_ids()) >= MESSAGES,
                    60,
                    "every accepted message recorded after the restart",
                )
            except AssertionError:
                got = set(reader.heartbeat_ids())
                missing = sorted(set(published) - got, key=lambda s: int(s.split("-")[1]))
                raise AssertionError(
                    f"{len(missing)} of {len(published)} accepted messages never recorded "
                    f"({before_restart} before the restart); first missing: {missing[:10]}; "
                    f"service log tail:\n{log.read_text()[-3000:]}"
                ) from None
            await asyncio.sleep(0.5)  # anything recorded twice would show up now
            recorded = reader.heartbeat_ids()
        reader.close()
    finally:
        device.close()
        forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, env["LW_MQTT_CLIENT_ID"])
    assert len(published) == MESSAGES
    assert sorted(recorded) == sorted(published)  # none lost, none twice
