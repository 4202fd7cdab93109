"""`InboundMessage` and `Item` are made once a message (paho's thread, the loop) by an
`__init__` written out (device_gateway/inbound.py, acks.py): they must stay the values
their dataclasses promise: frozen, equal and hashed by their compared fields (not
`received_at`), changed only into new ones by `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
import time

import pytest

from device_gateway.acks import Item
from device_gateway.inbound import InboundMessage
from device_gateway.messages import parse_device_message


def test_an_inbound_message_is_a_frozen_value_stamped_when_made() -> None:
    before = time.monotonic()
    one = InboundMessage("lw/v1/dev/fob-1/heartbeat", b"{}", 5, 1, False)
    after = time.monotonic()
    assert before <= one.received_at <= after
    assert (one.topic, one.payload, one.mid, one.qos, one.dup, one.username) == (
        "lw/v1/dev/fob-1/heartbeat",
        b"{}",
        5,
        1,
        False,
        None,
    )
    later = InboundMessage("lw/v1/dev/fob-1/heartbeat", b"{}", 5, 1, False, received_at=after + 1)
    assert later.received_at == after + 1
    assert later == one and hash(later) == hash(one)  # received_at is not compared
    assert InboundMessage("lw/v1/dev/fob-1/heartbeat", b"{}", 6, 1, False) != one
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.mid = 7  # type: ignore[misc]
    moved = dataclasses.replace(one, mid=9)
    assert (moved.mid, moved.topic, moved.received_at) == (9, one.topic, one.received_at)
    assert [f.name for f in dataclasses.fields(one)] == list(vars(one))


def test_an_item_is_a_frozen_value_replaced_as_a_dataclass() -> None:
    message = InboundMessage("lw/v1/dev/fob-1/sos", b"{}", 5, 1, False)
    reading = parse_device_message(message.topic, message.payload)
    item = Item(message, None, None, "why")
    assert (item.message, item.reading, item.source, item.why) == (message, None, None, "why")
    assert Item(message, None, None).why == ""
    assert item == Item(message, None, None, "why") and hash(item) == hash(
        Item(message, None, None, "why")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.why = ""  # type: ignore[misc]
    salvaged = dataclasses.replace(item, reading=reading)
    assert (salvaged.message, salvaged.reading, salvaged.why) == (message, reading, "why")
    assert [f.name for f in dataclasses.fields(item)] == list(vars(item))
