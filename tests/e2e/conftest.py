"""End-to-end: `lonewatch serve` as a real process, the real twilio library against the double."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulators.twilio_double import TwilioDouble
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.e2e.browsers import browser, console  # noqa: F401 - fixtures for the browser tests
from tests.harness import cli, forget_session, sse_events
from tests.worlds import DIRECTORY

ACCOUNT = "AC" + "e2e0" * 8
AUTH = "e2e-auth-token"


@dataclass
class Stack:
    env: dict[str, str]
    http: str
    mqtt_host: str
    mqtt_port: int
    prefix: str
    double: TwilioDouble
    log: Path

    def token(self, user: str) -> str:
        return cli(self.env, "token", "create", "--user", user)


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble(ACCOUNT, AUTH) as d:
        yield d


@pytest.fixture(params=["mosquitto+postgres", "embedded+sqlite"])
def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    topic_prefix: str,
    run_id: str,
    double: TwilioDouble,
) -> Iterator[Stack]:
    http_port = free_port()
    env = {
        "LW_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "LW_DIRECTORY": str(DIRECTORY),
        "LW_MQTT_TOPIC_PREFIX": topic_prefix,
        "LW_MQTT_CLIENT_ID": f"lw-e2e-{run_id}",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_FROM_NUMBER": "+441702999999",
        "LW_TWILIO_API_BASE": double.base_url,
        "LW_POLL_INTERVAL": "0.2",
    }
    if request.param == "mosquitto+postgres":
        request.getfixturevalue("mosquitto_url")
        env["LW_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["LW_MQTT_URL"] = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"
        host, port = MOSQUITTO_HOST, MOSQUITTO_PORT
    else:
        port = free_port()
        env["LW_DATABASE_URL"] = f"sqlite:///{tmp_path / 'lonewatch.sqlite3'}"
        env["LW_MQTT_URL"] = "embedded"
        env["LW_EMBEDDED_MQTT_PORT"] = str(port)
        host = "127.0.0.1"
    cli(env, "directory", "import", str(DIRECTORY))
    yield Stack(
        env,
        f"http://127.0.0.1:{http_port}",
        host,
        port,
        topic_prefix,
        double,
        tmp_path / "service.log",
    )
    if request.param == "mosquitto+postgres":
        forget_session(host, port, env["LW_MQTT_CLIENT_ID"])


async def wait_healthy(stack: Stack, timeout: float = 30.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{stack.http}/api/v1/health") as response:
                    body: dict[str, Any] = await response.json()
                    if response.status == 200:
                        return body
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"service never became healthy; log:\n{stack.log.read_text()[-4000:]}"
                )
            await asyncio.sleep(0.1)


async def read_stream(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    sink: list[tuple[str, dict[str, Any]]],
    ready: Callable[[], None],
) -> None:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        async for event, data in sse_events(response.content):
            sink.append((event, data))
            if event == "hello":
                ready()
