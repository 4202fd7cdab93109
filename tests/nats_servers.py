"""NATS servers of a test's own (simulators/nats_cluster.py): never the shared one on 4222,
whose streams other runs use."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from device_gateway.nats_sessions import NatsPlan, ensure_stream
from simulators.nats_cluster import OwnNatsCluster, nats_binary
from tests.conftest import REQUIRE_SERVICES


def need_nats() -> None:
    if nats_binary() is not None:
        return
    if REQUIRE_SERVICES:
        pytest.fail("nats-server is not installed and LW_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip("nats-server is not installed")


@pytest.fixture(scope="module")
def own_nats() -> Iterator[OwnNatsCluster]:
    """One JetStream node with an MQTT listener, shared by a module's tests (each uses its
    own stream and topic prefix)."""
    need_nats()
    node = OwnNatsCluster(size=1)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def make_stream(servers: list[str], plan: NatsPlan, *, ack_wait: float) -> None:
    """The stream and consumers made before the service starts, with a short ack wait (the
    service uses what it finds), so a test sees redelivery within seconds."""

    async def make() -> None:
        import nats

        nc = await nats.connect(servers=servers)
        try:
            await ensure_stream(nc.jetstream(), plan, ack_wait=ack_wait)
        finally:
            await nc.close()

    asyncio.run(make())
