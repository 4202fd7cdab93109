"""What the gateway writes to the log for the operator at 2 am, through the real intake and
store: a device reusing a message id, a device clock far from ours (recorded, flagged,
counted, and now logged, limited per device), and while the store is down, whose messages
wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from device_gateway.gateway import Gateway
from device_gateway.inbound import InboundMessage
from device_gateway.lanes import WAITING_DEVICES_NAMED
from device_gateway.links import Links
from tests.harness import eventually
from tests.unit.test_gateway_isolation import FakeLink, ScriptedStore, heartbeat, message
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(sqlite_url)
    yield w
    w.close()


@pytest.fixture
async def gateway(world: World) -> AsyncIterator[tuple[Gateway, FakeLink]]:
    link = FakeLink()
    gw = Gateway(world.app, intake=world.intake, sessions=Links(link))
    task = asyncio.create_task(gw.run())
    await eventually(lambda: gw.backlog, what="the gateway's lanes")
    try:
        yield gw, link
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _lines(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_a_reused_id_on_a_plain_reading_is_logged_with_its_device(
    gateway: tuple[Gateway, FakeLink],
) -> None:
    gw, link = gateway
    with capture_logs() as logs:
        gw.admit(heartbeat(1, "b1-7"))
        await eventually(lambda: link.acked == [1])
        gw.admit(message(2, "battery", b'{"id": "b1-7", "battery": 55}'))  # the heartbeat's id
        await eventually(lambda: link.acked == [1, 2])
    assert gw.stats["id_reused"] == 1
    [line] = _lines(logs, "device_message_id_reused")
    assert (line["device"], line["kind"], line["id"]) == ("sos-0001", "battery", "b1-7")
    assert line["log_level"] == "warning" and line["rate_limit_per"] == "device"


async def test_a_device_clock_far_from_ours_is_logged_with_the_skew(
    gateway: tuple[Gateway, FakeLink], world: World
) -> None:
    gw, link = gateway
    ahead = (world.clock.now() + timedelta(hours=1)).isoformat()
    with capture_logs() as logs:
        gw.admit(message(3, "heartbeat", b'{"id": "hb-1", "ts": "%s"}' % ahead.encode()))
        gw.admit(message(4, "heartbeat", b'{"id": "hb-2"}'))  # no ts: nothing to say
        await eventually(lambda: sorted(link.acked) == [3, 4])
    assert gw.stats["clock_skew"] == 1
    [line] = _lines(logs, "device_clock_skew")
    assert (line["device"], line["kind"], line["skew_seconds"]) == ("sos-0001", "heartbeat", 3600)
    assert line["rate_limit_per"] == "device"


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Gateway, ScriptedStore, FakeLink]]:
    store = ScriptedStore()
    link = FakeLink()
    gw = Gateway(cast(Any, store), intake=cast(Any, store), sessions=Links(link))
    task = asyncio.create_task(gw.run())
    await eventually(lambda: gw.backlog, what="the gateway's lanes")
    try:
        yield gw, store, link
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_while_the_store_is_down_the_log_says_whose_messages_wait(
    scripted: tuple[Gateway, ScriptedStore, FakeLink],
) -> None:
    """Health counts the held messages; the log line says whose they are, bounded."""
    gw, store, link = scripted
    store.unavailable = 2
    devices = [f"dev-{n:02d}" for n in range(WAITING_DEVICES_NAMED + 5)]
    with capture_logs() as logs:
        for mid, device in enumerate(devices * 2, start=1):
            gw.admit(
                InboundMessage(
                    f"lw/v1/dev/{device}/heartbeat",
                    b'{"id": "%d"}' % mid,
                    mid=mid,
                    qos=1,
                    dup=False,
                )
            )
        await eventually(lambda: len(link.acked) == len(devices) * 2, what="all recorded")
    first, *_ = _lines(logs, "event_store_unavailable")
    # Admitted together, they wait as one group: every message counted, ten devices named.
    assert (first["waiting"], first["waiting_devices"]) == (len(devices) * 2, len(devices))
    assert first["devices"] == devices[:WAITING_DEVICES_NAMED]
