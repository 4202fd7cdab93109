"""OwnTracks payloads (owntracks/booklet, "JSON") to readings or rejections."""

from __future__ import annotations

import json
from typing import Any

import pytest

from device_gateway.messages import DeviceReading, Rejection, RejectReason
from device_gateway.owntracks import parse_owntracks, subscriptions

TOPICS = {"owntracks/sam/phone": "phone-sam"}


def parse(topic: str, payload: dict[str, Any] | bytes) -> DeviceReading | Rejection:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_owntracks(topic, raw, TOPICS)


def test_the_service_subscribes_to_each_phone_and_its_events() -> None:
    assert subscriptions(TOPICS) == ["owntracks/sam/phone", "owntracks/sam/phone/event"]


def test_a_location_is_a_location_and_battery_reading() -> None:
    reading = parse(
        "owntracks/sam/phone",
        {
            "_type": "location",
            "tid": "ne",
            "lat": 51.5,
            "lon": 0.7,
            "acc": 12,
            "batt": 64,
            "tst": 1764580000,
            "conn": "m",
            "t": "u",
        },
    )
    assert isinstance(reading, DeviceReading)
    assert (reading.device_id, reading.kind, reading.msg_id) == (
        "phone-sam",
        "location",
        "owntracks-location-1764580000",
    )
    assert (reading.lat, reading.lon, reading.acc, reading.battery) == (51.5, 0.7, 12.0, 64)
    assert reading.device_ts is not None and reading.device_ts.timestamp() == 1764580000


def test_a_transition_and_the_last_will() -> None:
    leave = parse(
        "owntracks/sam/phone/event",
        {
            "_type": "transition",
            "event": "leave",
            "desc": "Visit",
            "lat": 51.5,
            "lon": 0.7,
            "acc": 10.0,
            "tst": 1764580100,
            "wtst": 1700000000,
            "t": "c",
        },
    )
    assert isinstance(leave, DeviceReading)
    assert (leave.kind, leave.extra["event"], leave.extra["desc"]) == (
        "transition",
        "leave",
        "Visit",
    )
    lwt = parse("owntracks/sam/phone", {"_type": "lwt", "tst": 1764570000})
    assert isinstance(lwt, DeviceReading)
    assert (lwt.kind, lwt.msg_id) == ("offline", "owntracks-lwt-1764570000")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (
            "owntracks/kim/phone",
            {"_type": "location", "lat": 1, "lon": 1, "tst": 1},
            RejectReason.bad_topic,
        ),
        ("owntracks/sam/phone", b"\xff", RejectReason.bad_json),
        ("owntracks/sam/phone", b"[1]", RejectReason.not_an_object),
        (
            "owntracks/sam/phone",
            {"_type": "transition", "event": "leave", "tst": 1},
            RejectReason.unknown_kind,
        ),
        ("owntracks/sam/phone", {"_type": "location", "lat": 1, "lon": 1}, RejectReason.bad_field),
        (
            "owntracks/sam/phone",
            {"_type": "location", "lat": 1, "lon": 1, "tst": "1"},
            RejectReason.bad_field,
        ),
        (
            "owntracks/sam/phone",
            {"_type": "location", "lat": 1, "lon": 1, "batt": 140, "tst": 1},
            RejectReason.out_of_range,
        ),
        (
            "owntracks/sam/phone/event",
            {"_type": "transition", "event": "stay", "tst": 1},
            RejectReason.bad_field,
        ),
        ("owntracks/sam/phone", b"{" + b" " * 5000 + b"}", RejectReason.oversize),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(
    topic: str, payload: dict[str, Any] | bytes, reason: RejectReason
) -> None:
    refused = parse(topic, payload)
    assert isinstance(refused, Rejection)
    assert refused.reason is reason and refused.detail
