"""Shared fixtures: real services when reachable, isolation per run, and the CI flag.

With LW_REQUIRE_SERVICES=1 (set by .ci/run) an unreachable PostgreSQL or
Mosquitto fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("LW_REQUIRE_SERVICES") == "1"
MOSQUITTO_HOST = os.environ.get("LW_TEST_MQTT_HOST", "127.0.0.1")
MOSQUITTO_PORT = int(os.environ.get("LW_TEST_MQTT_PORT", "1883"))
POSTGRES_ADMIN_URL = os.environ.get(
    "LW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and LW_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mosquitto_url() -> str:
    """The shared local Mosquitto; tests isolate themselves with `topic_prefix` and client ids."""
    need_service("Mosquitto", MOSQUITTO_HOST, MOSQUITTO_PORT)
    return f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of this test's own, so parallel runs on one broker never meet."""
    return f"lwtest-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


def pg_admin_parts() -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(POSTGRES_ADMIN_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of this test's own on the shared PostgreSQL, dropped afterwards."""
    host, port = pg_admin_parts()
    need_service("PostgreSQL", host, port)
    from simulators.local_stack import scratch_database

    with scratch_database(POSTGRES_ADMIN_URL, "lw_test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on the embedded store and once on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))
