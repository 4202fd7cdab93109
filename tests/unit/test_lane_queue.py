"""A gateway lane (device_gateway/lane_queue.py): what waits there is unacknowledged, so a
group takes the oldest first, never more than asked, and a consumer that is cancelled while
waiting (a restarted run) takes nothing: the next one serves every message left."""

from __future__ import annotations

import asyncio

from device_gateway.lane_queue import LaneQueue


async def test_a_group_takes_the_oldest_in_order_and_at_most_as_many_as_asked() -> None:
    lane: LaneQueue[int] = LaneQueue()
    for n in range(7):
        lane.put_nowait(n)
    assert lane.qsize() == 7
    assert await lane.group(3) == [0, 1, 2]
    assert await lane.group(3) == [3, 4, 5]
    assert lane.qsize() == 1
    assert await lane.group(3) == [6]
    assert lane.qsize() == 0


async def test_a_group_waits_for_its_first_message_then_takes_what_has_gathered() -> None:
    lane: LaneQueue[str] = LaneQueue()
    waiting = asyncio.ensure_future(lane.group(10))
    await asyncio.sleep(0)
    assert not waiting.done()
    lane.put_nowait("a")
    lane.put_nowait("b")  # put before the consumer runs again: in the same group
    assert await asyncio.wait_for(waiting, 1) == ["a", "b"]


async def test_a_consumer_cancelled_while_waiting_takes_nothing_and_the_next_gets_all() -> None:
    lane: LaneQueue[int] = LaneQueue()
    first = asyncio.ensure_future(lane.group(10))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    lane.put_nowait(1)  # no live waiter to wake: it stays
    lane.put_nowait(2)
    assert lane.qsize() == 2
    assert await asyncio.wait_for(lane.group(10), 1) == [1, 2]


async def test_a_message_put_after_a_group_was_taken_wakes_the_next_wait() -> None:
    lane: LaneQueue[int] = LaneQueue()
    lane.put_nowait(1)
    assert await lane.group(5) == [1]
    later = asyncio.ensure_future(lane.group(5))
    await asyncio.sleep(0)
    lane.put_nowait(2)
    assert await asyncio.wait_for(later, 1) == [2]
