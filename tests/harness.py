"""Running the real service in-process or as a process, and waiting without sleeping blind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from service.adapters.directory_file import load_directory
from service.adapters.notifiers.base import Notifier
from service.bootstrap import build
from service.clock import Clock
from service.config import Settings
from service.container import Container
from service.lifecycle import running
from service.workers.notification_tries import DEFAULT_BACKOFF
from simulators import local_stack
from tests.worlds import DIRECTORY

REPO = Path(__file__).resolve().parent.parent


async def eventually(
    check: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def service_in_process(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    with_mqtt: bool = True,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    directory: Path = DIRECTORY,
) -> AsyncIterator[Container]:
    container = build(settings, clock=clock, notifier=notifier, backoff=backoff)
    container.app.import_directory(load_directory(directory))
    try:
        async with running(container, with_mqtt=with_mqtt):
            if container.link is not None:
                assert await asyncio.to_thread(container.link.wait_connected, 10), (
                    "gateway not connected"
                )
            yield container
    finally:
        container.close()


async def sse_events(content: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) pairs from a Server-Sent Events body, as they arrive."""
    event = None
    async for raw in content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event:
            yield event, json.loads(line.split(":", 1)[1])


class Device:
    """A plain MQTT client playing a device: publishes at QoS 1, listens on its cmd topic.

    Its blocking calls run in a thread (`connect`, `send`), because an embedded broker
    shares the test's event loop and must keep running while the device waits.
    """

    @classmethod
    async def connect(
        cls, host: str, port: int, prefix: str, device_id: str, client_id: str
    ) -> Device:
        return await asyncio.to_thread(cls, host, port, prefix, device_id, client_id)

    async def send(
        self, kind: str, payload: dict[str, Any] | bytes | None = None, device: str | None = None
    ) -> None:
        await asyncio.to_thread(self.publish, kind, payload, device)

    def __init__(self, host: str, port: int, prefix: str, device_id: str, client_id: str) -> None:
        self.prefix, self.device_id = prefix, device_id
        self.commands: list[dict[str, Any]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.on_message = lambda _c, _u, m: self.commands.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}lw/v1/dev/{device_id}/cmd", qos=1)
        assert self._subscribed.wait(5), "device could not subscribe to its cmd topic"

    def publish(
        self, kind: str, payload: dict[str, Any] | bytes | None = None, device: str | None = None
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
        info = self.client.publish(
            f"{self.prefix}lw/v1/dev/{device or self.device_id}/{kind}", body, qos=1
        )
        info.wait_for_publish(5)
        assert info.is_published(), "broker did not acknowledge the publish"

    def close(self) -> None:
        """DISCONNECT first, then stop the loop (paho's order, as simulators/device.py does):
        a loop told to stop while connected runs on until every QoS 1 publish it sent is
        acknowledged, and one teardown in a full run waited minutes there."""
        self.client.disconnect()
        self.client.loop_stop()


def forget_session(host: str, port: int, client_id: str) -> None:
    """Remove a gateway's persistent sessions (the main one and `<client_id>-alarm`) from the
    shared broker, so tests leave it as they found it."""
    for session in (client_id, f"{client_id}-alarm"):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=session, protocol=mqtt.MQTTv5)
        with contextlib.suppress(OSError):
            client.connect(host, port, clean_start=True)
            client.loop_start()
            time.sleep(0.2)
            client.disconnect()
            client.loop_stop()


def _lonewatch(env: dict[str, str], args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """`lonewatch ...` as a person runs it: its own process, from the repository."""
    return subprocess.run(
        [sys.executable, "-m", "service.entrypoints.cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli(env: dict[str, str], *args: str) -> str:
    result = _lonewatch(env, args)
    assert result.returncode == 0, f"lonewatch {' '.join(args)} failed: {result.stderr}"
    return result.stdout.strip()


def cli_failing(env: dict[str, str], *args: str) -> str:
    """`lonewatch ...` that must refuse: returns what it told the person on stderr."""
    result = _lonewatch(env, args)
    assert result.returncode != 0, f"lonewatch {' '.join(args)} succeeded: {result.stdout}"
    return result.stderr.strip()


def service_process(
    env: dict[str, str], log_path: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`lonewatch serve` as a real process, logging JSON; killed if it will not stop."""
    return local_stack.service_process({"LW_LOG_FORMAT": "json", **env}, log_path)
