"""A Mosquitto of a test's own, on a free port, built from the production configuration.

For tests that need the production settings (queues, ACL) or that would disturb the
shared broker; never touches the shared Mosquitto on 1883. The broker itself is
simulators.local_stack.OwnMosquitto (restartable, shared with the chaos run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.local_stack import MOSQUITTO_ACL, MOSQUITTO_CONF, OwnMosquitto, mosquitto_conf
from tests.conftest import REQUIRE_SERVICES

PRODUCTION_CONF = MOSQUITTO_CONF
PRODUCTION_ACL = MOSQUITTO_ACL
broker_conf = mosquitto_conf


@contextlib.contextmanager
def own_mosquitto(
    workdir: Path, *, passwd: Path | None = None, acl: Path | None = None
) -> Iterator[int]:
    """Yields the port; skips the test when Mosquitto is not installed (fails under
    LW_REQUIRE_SERVICES=1, as CI runs)."""
    broker = OwnMosquitto(workdir, passwd=passwd, acl=acl)
    if not broker.installed:
        if REQUIRE_SERVICES:
            pytest.fail("mosquitto is not installed and LW_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip("mosquitto is not installed")
    broker.start()
    try:
        yield broker.port
    finally:
        broker.stop()
