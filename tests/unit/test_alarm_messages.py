"""The lead's safety decision: an alarm is never refused over a bad optional field;
and a device clock far from ours is kept and flagged, not refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from device_gateway.messages import (
    DeviceReading,
    Rejection,
    RejectReason,
    clock_skew_seconds,
    parse_device_message,
)


def parse(topic: str, **fields: object) -> DeviceReading | Rejection | None:
    return parse_device_message(topic, json.dumps(fields).encode())


@pytest.mark.parametrize("kind", ["sos", "fall"])
def test_an_alarm_with_a_bad_optional_field_still_raises_with_the_field_dropped(
    kind: str,
) -> None:
    reading = parse(f"lw/v1/dev/fob-1/{kind}", id="p-1", battery="full", lat=51.5, lon=0.7)
    assert isinstance(reading, DeviceReading)
    assert reading.msg_id == "p-1"
    assert reading.battery is None
    assert (reading.lat, reading.lon) == (51.5, 0.7)
    assert reading.rejected_fields == {
        "battery": "field 'battery' must be an integer 0-100, got 'full'"
    }


def test_an_alarm_lists_every_bad_field_it_dropped() -> None:
    reading = parse("lw/v1/dev/fob-1/sos", id=1.5, ts="yesterday", acc=-3)
    assert isinstance(reading, DeviceReading)
    assert set(reading.rejected_fields) == {"id", "ts", "acc"}
    assert reading.msg_id is None and reading.device_ts is None and reading.acc is None


def test_a_good_alarm_has_no_rejected_fields() -> None:
    reading = parse("lw/v1/dev/fob-1/sos", id="p-1", battery=50)
    assert isinstance(reading, DeviceReading)
    assert reading.rejected_fields == {}


@pytest.mark.parametrize("kind", ["heartbeat", "battery", "location", "checkin", "message"])
def test_other_kinds_are_still_refused_outright_for_a_bad_field(kind: str) -> None:
    refused = parse(f"lw/v1/dev/fob-1/{kind}", battery="full", lat=1, lon=1, text="hi")
    assert isinstance(refused, Rejection)
    assert refused.reason is RejectReason.bad_field


def test_an_alarm_that_is_not_json_is_still_refused_nothing_to_salvage() -> None:
    refused = parse_device_message("lw/v1/dev/fob-1/sos", b"{not json")
    assert isinstance(refused, Rejection)
    assert refused.reason is RejectReason.bad_json


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(0), None),
        (timedelta(seconds=299), None),
        (timedelta(seconds=-299), None),
        (timedelta(hours=1), 3600.0),
        (timedelta(days=-2), -172800.0),
    ],
)
def test_a_device_clock_beyond_five_minutes_is_flagged_with_its_skew(
    offset: timedelta, expected: float | None
) -> None:
    assert clock_skew_seconds(NOW + offset, NOW) == expected


def test_no_device_clock_no_skew() -> None:
    assert clock_skew_seconds(None, NOW) is None


def test_gateways_share_the_device_traffic_when_given_a_group() -> None:
    from device_gateway.messages import device_subscription

    assert device_subscription("site/") == "site/lw/v1/dev/+/+"
    assert device_subscription("", "gw") == "$share/gw/lw/v1/dev/+/+"
    with pytest.raises(ValueError, match="one topic level"):
        device_subscription("", "a/b")
