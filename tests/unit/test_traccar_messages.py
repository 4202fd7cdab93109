"""Traccar's forwarded JSON to readings: its own shapes in, our intake's readings out.

The literal body in tests/fixtures/traccar_event_sos.json follows Traccar's `EventData`
with `model/Event.java`, `model/Position.java` and `model/Device.java` as Jackson writes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.messages import DeviceReading, Rejection
from device_gateway.traccar import (
    TraccarRefused,
    event_readings,
    parse_body,
    position_readings,
)
from simulators.traccar_forwarder import TraccarDevice, TraccarForwarder, traccar_time

FIXTURE = Path(__file__).parent.parent / "fixtures" / "traccar_event_sos.json"
WHEN = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
FORWARDER = TraccarForwarder("http://x/e", "http://x/p", "Authorization: Bearer t")
WATCH = TraccarDevice("358000000000007", 7)


def readings(found: list[DeviceReading | Rejection]) -> list[DeviceReading]:
    assert all(isinstance(r, DeviceReading) for r in found), found
    return [r for r in found if isinstance(r, DeviceReading)]


def test_traccar_writes_dates_as_iso_with_millis_and_offset() -> None:
    assert traccar_time(WHEN) == "2026-11-23T09:05:00.000+00:00"


def test_an_sos_event_is_an_sos_reading_keyed_on_its_position() -> None:
    forwarded = parse_body(FIXTURE.read_bytes(), "event")
    assert forwarded.unique_id == "358000000000007"

    [sos] = readings(event_readings("watch-07", forwarded.body))

    assert (sos.kind, sos.msg_id) == ("sos", "traccar-alarm-88001-sos")
    assert (sos.lat, sos.lon, sos.acc, sos.battery) == (51.54216, 0.66871, 8.0, 64)
    assert sos.device_ts == WHEN
    assert sos.extra["address"] == "14 Mountdale Gardens, Leigh-on-Sea SS9 4AW"
    assert sos.extra["traccar_event"] == "5501"


def test_the_position_carrying_the_same_alarm_names_the_same_message() -> None:
    """'An event and the position it carries ... reporting the same alarm raise one alert.'"""
    body = json.loads(FIXTURE.read_text())
    [from_event] = readings(event_readings("watch-07", body))
    location, from_position = readings(position_readings("watch-07", body))

    assert location.kind == "location"
    assert location.msg_id == "traccar-position-88001"
    assert from_position.msg_id == from_event.msg_id


@pytest.mark.parametrize(
    ("alarm", "kinds"),
    [
        ("sos", ["sos"]),
        ("fallDown", ["fall"]),
        ("sos,fallDown", ["sos", "fall"]),
        ("vibration", []),
    ],
)
def test_traccar_alarms_that_are_ours(alarm: str, kinds: list[str]) -> None:
    position = FORWARDER.position(WATCH, WHEN, lat=51.5, lon=0.7, alarm=alarm)
    found = readings(position_readings("watch-07", FORWARDER.position_body(WATCH, position)))
    assert [r.kind for r in found] == ["location", *kinds]
    event = FORWARDER.event(WATCH, "alarm", WHEN, position=position, alarm=alarm)
    expected = kinds or ["event"]  # an alarm that is not ours is recorded as an event
    assert [r.kind for r in readings(event_readings("watch-07", event))] == expected


@pytest.mark.parametrize(
    ("kind", "ours"),
    [("deviceOffline", "offline"), ("deviceUnknown", "offline"), ("geofenceEnter", "event")],
)
def test_other_events(kind: str, ours: str) -> None:
    [reading] = readings(event_readings("watch-07", FORWARDER.event(WATCH, kind, WHEN, event_id=9)))
    assert (reading.kind, reading.msg_id, reading.extra["traccar_type"]) == (
        ours,
        "traccar-event-9",
        kind,
    )


def test_zero_means_none_in_traccar() -> None:
    """No accuracy, and 0,0 before a first fix: not a place in the Gulf of Guinea."""
    position = FORWARDER.position(WATCH, WHEN, lat=0.0, lon=0.0, accuracy=0.0)
    [location] = readings(position_readings("watch-07", FORWARDER.position_body(WATCH, position)))
    assert (location.lat, location.lon, location.acc) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"[]", "JSON object"),
        (b"{", "not UTF-8 JSON"),
        (b'{"event": {}}', "uniqueId"),
        (b'{"position": {}, "device": {"uniqueId": "1"}}', "'event'"),
    ],
)
def test_bodies_that_are_not_traccars(raw: bytes, says: str) -> None:
    with pytest.raises(TraccarRefused, match=says):
        parse_body(raw, "event")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "latitude", "longitude", "accuracy", "fixTime", "attributes"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True)
        | st.text(max_size=20)
        | st.dictionaries(st.sampled_from(["alarm", "batteryLevel"]), st.text() | st.integers()),
    )
)
def test_any_position_is_readings_or_reasons_never_an_exception(position: dict[str, Any]) -> None:
    for found in position_readings("watch-07", {"position": position}):
        assert isinstance(found, DeviceReading | Rejection)
