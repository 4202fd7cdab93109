"""A group's acknowledgements: after its commit, all of them, and in one call to a link that
can take them together (MqttLink.ack_all: one write to the broker for the group)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from device_gateway.acks import Acks, Item
from device_gateway.inbound import InboundMessage
from device_gateway.links import Links
from device_gateway.messages import DeviceReading, parse_device_message
from service.application.device_intake import Intaken, Outcome


class OneByOne:
    def __init__(self) -> None:
        self.acked: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append((mid, qos))

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        pass


class Grouped(OneByOne):
    def __init__(self, *, fails: bool = False) -> None:
        super().__init__()
        self.groups: list[list[tuple[int, int]]] = []
        self.fails = fails

    def ack_all(self, messages: Sequence[tuple[int, int]]) -> None:
        if self.fails:
            raise OSError("the wake-up socket is closed")
        self.groups.append(list(messages))


def _group(count: int) -> tuple[list[Item], list[Intaken]]:
    items, results = [], []
    outcomes = [Outcome.RECORDED, Outcome.DUPLICATE, Outcome.UNKNOWN_DEVICE]
    for mid in range(1, count + 1):
        topic = f"lw/v1/dev/fob-{mid}/heartbeat"
        payload = b'{"id":"%d"}' % mid
        reading = parse_device_message(topic, payload)
        assert isinstance(reading, DeviceReading)
        message = InboundMessage(topic, payload, mid=mid, qos=1, dup=False)
        items.append(Item(message, reading, None))
        results.append(Intaken(outcomes[mid % 3]))
    return items, results


def test_a_group_is_acknowledged_in_one_call_in_order() -> None:
    link = Grouped()
    stats: Counter[str] = Counter()
    acks = Acks(Links(main=link), stats, prefix="", on_notifications=None)
    items, results = _group(7)
    acks.settle_all(items, results)
    assert link.groups == [[(mid, 1) for mid in range(1, 8)]]
    assert link.acked == []  # none one by one
    assert stats["recorded"] + stats["duplicates"] + stats["rejected:unknown_device"] == 7
    acks.ack(items[0].message, None)  # outside a group: at once
    assert link.acked == [(1, 1)]


def test_a_link_without_group_acks_is_acknowledged_one_by_one() -> None:
    link = OneByOne()
    acks = Acks(Links(main=link), Counter(), prefix="", on_notifications=None)
    items, results = _group(4)
    acks.settle_all(items, results)
    assert link.acked == [(mid, 1) for mid in range(1, 5)]


def test_group_acks_that_fail_do_not_stop_the_lane() -> None:
    """Recorded already: left unacknowledged, the broker delivers them again on resume."""
    link = Grouped(fails=True)
    acks = Acks(Links(main=link), Counter(), prefix="", on_notifications=None)
    items, results = _group(3)
    acks.settle_all(items, results)  # does not raise
    acks.ack(items[0].message, None)
    assert link.acked == [(1, 1)]  # and the next ack is not gathered into a dead group


def test_a_group_from_two_links_is_acknowledged_on_each_in_order() -> None:
    """Plain readings (acknowledged in settle_all's own loop) and the rest (through `_settle`)
    interleaved across two links, a grouping one and a one-by-one one: each message on the link
    it came by, each link's in their order."""
    grouped, single = Grouped(), OneByOne()
    acks = Acks(Links(main=grouped), Counter(), prefix="", on_notifications=None)
    items, results = _group(12)
    # Every third reading is plain (_group's outcomes): those four come by grouped, single,
    # None (the main link) and grouped.
    sources = [single, grouped, grouped, None, single, single, grouped, single, None, single]
    sources += [None, grouped]
    items = [Item(item.message, item.reading, sources[i]) for i, item in enumerate(items)]
    acks.settle_all(items, results)
    on_main = [i.message.mid for i in items if i.source is not single]
    assert grouped.groups == [[(mid, 1) for mid in on_main]]
    assert single.acked == [(i.message.mid, 1) for i in items if i.source is single]
