"""What the gateway sees of a JetStream consumer: a message with a topic and an id to ack
by, acknowledged once, after the gateway says so (never on delivery)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.inbound import InboundMessage
from device_gateway.nats_link import NatsLink


@dataclass
class Metadata:
    num_delivered: int


@dataclass
class FakeMsg:
    """The part of nats-py's Msg the link uses."""

    subject: str
    data: bytes
    metadata: Metadata
    acks: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.acks.append(self.subject)


async def test_a_pulled_message_reaches_the_gateway_unacknowledged_and_is_acked_once() -> None:
    delivered: list[InboundMessage] = []
    link = NatsLink("devices", durables=["d"], deliver=delivered.append)
    link.attach(object())  # type: ignore[arg-type]  # only acks are sent here
    first = FakeMsg("site.lw.v1.dev.sos-1.sos", b"{}", Metadata(1))
    again = FakeMsg("site.lw.v1.dev.sos-1.heartbeat", b"{}", Metadata(3))
    link._hand_over(first)  # type: ignore[arg-type]
    link._hand_over(again)  # type: ignore[arg-type]
    assert [(m.topic, m.dup) for m in delivered] == [
        ("site/lw/v1/dev/sos-1/sos", False),
        ("site/lw/v1/dev/sos-1/heartbeat", True),
    ]
    await asyncio.sleep(0)
    assert first.acks == [] and link.in_flight == 2, "nothing is acknowledged on delivery"
    link.ack(delivered[0].mid, 1)
    link.ack(delivered[0].mid, 1)  # a second ack of the same message is dropped
    await asyncio.sleep(0)
    assert first.acks == ["site.lw.v1.dev.sos-1.sos"]
    assert again.acks == [] and link.in_flight == 1


def test_a_link_is_not_connected_before_its_consumers_answer() -> None:
    link = NatsLink("alarms", durables=["a", "b"], deliver=lambda _: None)
    assert not link.connected
    link._answering("a", True)
    assert not link.wait_connected(0)
    link._answering("b", True)
    assert link.wait_connected(0)


class WaitForSub:
    """A pull subscription that waits as nats-py 2.16's `Subscription.next_msg` does: a
    task running `asyncio.wait_for(queue.get(), timeout)`, awaited. On Python 3.11 that
    wait returns the message when a cancel lands as the message arrives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[FakeMsg] = asyncio.Queue()
        self.fetching = asyncio.Event()
        self.closed = False

    async def fetch(self, batch: int, timeout: float) -> list[FakeMsg]:
        if self.closed:  # the test's own way out when the pulls ignored the cancel
            raise asyncio.CancelledError
        self.fetching.set()

        async def timed_get() -> FakeMsg:
            return await asyncio.wait_for(self.queue.get(), timeout)

        return [await asyncio.create_task(timed_get())]

    async def unsubscribe(self) -> None:
        return None


class OneSubJetStream:
    def __init__(self, sub: WaitForSub) -> None:
        self.sub = sub

    async def pull_subscribe_bind(self, durable: str, stream: str) -> WaitForSub:
        return self.sub


class Connected:
    is_connected = True


async def stop_as_a_message_arrives(turns: int) -> bool:
    """Start a link's pulls, let a pull's 408 arrive `turns` loop turns before the stop's
    cancel, and say whether the pulls ended (within 3 s) as `NatsSessions.stop` needs."""
    link = NatsLink("alarms", durables=["lonewatch-alarms-sos"], deliver=lambda _: None)
    sub = WaitForSub()
    js: Any = OneSubJetStream(sub)
    pulls = asyncio.create_task(link.run(Connected(), js, "LW"))  # type: ignore[arg-type]
    await asyncio.wait_for(sub.fetching.wait(), 3)
    sub.queue.put_nowait(FakeMsg("lw.v1.dev.sos-1.sos", b"", Metadata(1)))
    for _ in range(turns):
        await asyncio.sleep(0)
    pulls.cancel()
    done, _ = await asyncio.wait({pulls}, timeout=3)
    if not done:  # the pulls went on (a second cancel would not reach them): end them
        sub.closed = True
        await asyncio.wait({pulls})
    return pulls in done and pulls.cancelled()


@settings(max_examples=12, deadline=None)
@given(turns=st.integers(min_value=0, max_value=5))
def test_a_stop_ends_the_pulls_whenever_a_message_arrives_beside_it(turns: int) -> None:
    """`NatsSessions.stop` cancels the pulls and awaits them: whatever the instant of the
    cancel, they end (a cancel swallowed by nats-py's wait left them pulling for ever and
    the service never stopped)."""
    assert asyncio.run(stop_as_a_message_arrives(turns)), f"pulls went on ({turns} turns)"
