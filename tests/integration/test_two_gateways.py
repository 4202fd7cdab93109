"""Two gateway processes share the device traffic ($share/); SIGKILL one mid-stream and
nothing is lost: every published message id is recorded exactly once.

FIELD-NOTES: Mosquitto keeps a crashed shared-subscription member's in-flight (and
queued) messages for that client id, so the killed gateway is restarted with the
same LW_MQTT_CLIENT_ID, as a supervisor would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from service.adapters.event_inserts import existing_originators
from service.domain import ids
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.harness import cli, forget_session, service_process
from tests.worlds import DIRECTORY, World

MESSAGES = 600
KILL_AFTER = 150


def healthy(http: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http}/api/v1/health", timeout=1) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return bool(body["checks"].get("broker", {}).get("ok"))


def wait_healthy(http: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while not healthy(http):
        assert process.poll() is None, f"gateway exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"gateway not healthy: {log.read_text()[-2000:]}"
        time.sleep(0.1)


@pytest.fixture
def env(postgres_url: str, topic_prefix: str, run_id: str, mosquitto_url: str) -> dict[str, str]:
    base = {
        "LW_DATABASE_URL": postgres_url,
        "LW_MQTT_URL": mosquitto_url,
        "LW_MQTT_TOPIC_PREFIX": topic_prefix,
        "LW_MQTT_SHARE_GROUP": f"g-{run_id}",
    }
    cli(base, "directory", "import", str(DIRECTORY))
    return base


@pytest.fixture
def gateway_ids(run_id: str) -> Iterator[tuple[str, str]]:
    pair = (f"lw-gw-a-{run_id}", f"lw-gw-b-{run_id}")
    yield pair
    for client_id in pair:
        forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


def test_sigkill_of_one_of_two_gateways_loses_nothing(
    env: dict[str, str], gateway_ids: tuple[str, str], tmp_path: Path, topic_prefix: str
) -> None:
    a_id, b_id = gateway_ids
    a_http, b_http = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    a_env = {**env, "LW_MQTT_CLIENT_ID": a_id, "LW_HTTP_ADDR": a_http}
    b_env = {**env, "LW_MQTT_CLIENT_ID": b_id, "LW_HTTP_ADDR": b_http}
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(service_process(a_env, tmp_path / "a.log"))
        # One after the other: two processes creating the store's tables at the same
        # moment can fail in PostgreSQL ("tuple concurrently updated").
        wait_healthy(a_http, a, tmp_path / "a.log")
        b = stack.enter_context(service_process(b_env, tmp_path / "b.log"))
        wait_healthy(b_http, b, tmp_path / "b.log")

        device = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"dev-{a_id}", protocol=mqtt.MQTTv311
        )
        device.max_inflight_messages_set(100)
        device.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
        device.loop_start()
        infos = []
        for n in range(MESSAGES):
            if n == KILL_AFTER:
                os.kill(a.pid, signal.SIGKILL)
                a.wait(10)
            body = json.dumps({"id": f"k-{n}", "seq": n}).encode()
            infos.append(device.publish(f"{topic_prefix}lw/v1/dev/sos-0001/heartbeat", body, qos=1))
            time.sleep(0.002)
        for info in infos:
            info.wait_for_publish(10)
        assert all(info.is_published() for info in infos)
        device.disconnect()
        device.loop_stop()

        wanted = {ids.device_message_id("sos-0001", f"k-{n}") for n in range(MESSAGES)}
        time.sleep(1.0)
        world = World(env["LW_DATABASE_URL"])
        try:
            waiting = len(wanted - existing_originators(world.app.recorder, wanted))
        finally:
            world.close()
        print(f"\nwaiting for the killed gateway's session: {waiting} of {MESSAGES}")

        # The supervisor brings the killed gateway back under the same client id.
        with service_process(a_env, tmp_path / "a2.log") as a2:
            wait_healthy(a_http, a2, tmp_path / "a2.log")
            world = World(env["LW_DATABASE_URL"])
            try:
                deadline = time.monotonic() + 30
                while (found := existing_originators(world.app.recorder, wanted)) != wanted:
                    assert time.monotonic() < deadline, f"{len(wanted - found)} never recorded"
                    time.sleep(0.2)
                received = [
                    n
                    for n in world.app.recorder.select_notifications(start=1, limit=100_000)
                    if n.topic.endswith(":DeviceMessage.Received")
                ]
                assert len(received) == MESSAGES, "each message recorded exactly once"
            finally:
                world.close()
        assert b.poll() is None, "the surviving gateway kept running"
