"""'Validation refuses what cannot be stored': whatever JSON the validator accepts, the
gateway can derive its id (uuid5), encode it as the event store does, and keep it as UTF-8.

Generated payloads mix valid values with what json.loads lets through and no store can
hold: lone surrogate escapes, NUL, NaN and the infinities, huge integers, dates past 9999.
"""

from __future__ import annotations

import json
import math
from datetime import UTC
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.messages import DEVICE_KINDS, DeviceReading, Rejection, parse_device_message
from service.domain import ids

_awkward_text = st.text(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),  # surrogates and NUL included
        st.sampled_from(["\ud800", "\udfff", "\x00", "é", "😀"]),
    ),
    max_size=20,
)
_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 100, 101, -1, 90, -180, 2**63 - 1, 2**63, 253402300799999, 10**20]),
)
_dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "2025-13-01"]),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _awkward_text, _dates)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_awkward_text, children, max_size=3)
    ),
    max_leaves=8,
)
_field_values = {
    "id": st.one_of(_awkward_text, _values),
    "ts": st.one_of(_dates, _numbers, _values),
    "lat": st.one_of(_numbers, _values),
    "lon": st.one_of(_numbers, _values),
    "acc": st.one_of(_numbers, _values),
    "battery": st.one_of(_numbers, _values),
    "text": st.one_of(_awkward_text, _values),
    "seq": st.one_of(_numbers, _values),
}
_known = st.fixed_dictionaries({}, optional=_field_values)
_payloads = st.tuples(_known, st.dictionaries(_awkward_text, _values, max_size=2)).map(
    lambda pair: {**pair[1], **pair[0]}
)

_transcoder = JSONTranscoder()
_transcoder.register(DatetimeAsISO())


def assert_storable(reading: DeviceReading) -> None:
    if reading.msg_id is not None:
        ids.device_message_id(reading.device_id, reading.msg_id)  # uuid5 encodes as UTF-8
    if reading.device_ts is not None:
        assert reading.device_ts.tzinfo is not None
        assert 1 <= reading.device_ts.astimezone(UTC).year <= 9999
    for number in (reading.lat, reading.lon, reading.acc):
        assert number is None or math.isfinite(number)
    for integer in (reading.battery, reading.seq):
        assert integer is None or -(2**63) <= integer < 2**63
    state: dict[str, Any] = {
        "device": reading.device_id,
        "kind": reading.kind,
        "message_id": reading.msg_id,
        "device_ts": reading.device_ts,
        "fields": {
            "lat": reading.lat,
            "lon": reading.lon,
            "acc": reading.acc,
            "battery": reading.battery,
            "seq": reading.seq,
            "text": reading.text,
            "rejected_fields": reading.rejected_fields,
        },
    }
    encoded = _transcoder.encode(state)  # what the event store does: JSON, then UTF-8
    assert _transcoder.decode(encoded) == state
    json.dumps(state["fields"], allow_nan=False)  # views and logs: strict JSON


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(DEVICE_KINDS), payload=_payloads)
def test_whatever_the_validator_accepts_can_be_stored(kind: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=True, allow_nan=True).encode()
    parsed = parse_device_message(f"lw/v1/dev/fob-1/{kind}", body)
    if isinstance(parsed, Rejection):
        parsed.detail.encode("utf-8")  # logged: must be text too
        return
    assert isinstance(parsed, DeviceReading)
    assert_storable(parsed)


@settings(max_examples=200, deadline=None)
@given(payload=_payloads)
def test_an_alarm_is_never_refused_for_its_fields(payload: dict[str, Any]) -> None:
    """'An alarm is never refused over a bad optional field' (docs/devices.md)."""
    body = json.dumps(payload, ensure_ascii=True, allow_nan=True).encode()
    if len(body) > 4096:
        return
    parsed = parse_device_message("lw/v1/dev/fob-1/sos", body)
    assert isinstance(parsed, DeviceReading), parsed
    assert_storable(parsed)


# -- the one-pass reader (device_gateway/fast_payload.py) is a shortcut, never a new rule ----

_valid_fields = {
    "id": st.one_of(st.text(min_size=1, max_size=130), st.integers(-(2**70), 2**70)),
    "ts": st.one_of(
        st.integers(-62_135_596_800_001, 253_402_300_800_000),
        st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
    ),
    "lat": st.one_of(st.floats(-91, 91), st.integers(-91, 91)),
    "lon": st.one_of(st.floats(-181, 181), st.integers(-181, 181)),
    "acc": st.one_of(st.floats(-1, 2e7 + 1), st.integers(-1, 20_000_001)),
    "battery": st.integers(-1, 101),
    "text": st.text(max_size=1001),
    "seq": st.integers(-1, 2**64),
}
_mostly_valid = st.fixed_dictionaries(
    {}, optional={name: st.one_of(st.none(), strategy) for name, strategy in _valid_fields.items()}
)


def _read_both(topic: str, body: bytes) -> tuple[object, object]:
    from unittest import mock

    from device_gateway import messages

    one_pass = parse_device_message(topic, body)
    with mock.patch.object(messages, "fast_reading", return_value=None):
        full = parse_device_message(topic, body)
    return one_pass, full


@settings(max_examples=600, deadline=None)
@given(
    kind=st.sampled_from(DEVICE_KINDS),
    payload=st.one_of(_mostly_valid, _payloads),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
)
def test_the_one_pass_reader_reads_as_the_full_reader_does(
    kind: str, payload: dict[str, Any], ascii_only: bool, spaced: bool
) -> None:
    """Same reading, or the same rejection in the same words, for any payload: the one-pass
    reader answers only for payloads it can read in full, and leaves the rest alone."""
    separators = (", ", ": ") if spaced else (",", ":")
    body = json.dumps(
        payload, ensure_ascii=ascii_only, allow_nan=True, separators=separators
    ).encode("utf-8", "surrogatepass")
    one_pass, full = _read_both(f"lw/v1/dev/fob-1/{kind}", body)
    assert repr(one_pass) == repr(full)


@pytest.mark.parametrize(
    "body",
    [
        b'{"battery": 5, "battery": 7}',
        b'{"battery": "x", "battery": 7}',
        b'{"battery": 7, "battery": null}',
        b'{"id": "a\\u0000b"}',
        b'{"text": "\\ud800"}',
        b'{"id": "\\ud83d\\ude00"}',
        b'{"seq": 99999999999999999999999999999999999999}',
        b'{"lat": 1e400}',
        b'{"lat": -0}',
        b'{"lat": -0.0}',
        b'{"lat": 45.123456789012345678}',
        b'{"acc": NaN}',
        b'\xef\xbb\xbf{"id": "bom"}',
        b'{"\\u0062attery": 5}',
        b'{"id": "x", "extra": "\\ud800"}',
        b"{}",
        b"  ",
        b"[]",
        b'{"battery": 7, "battery": "x"}',
        b'{"battery": true}',
        b'{"id": true}',
        b'{"id": {"a": 1}}',
        b'{"text": ["a\\u0000"]}',
        b'{"ts": 1.5}',
        b'{"lat": 90, "lon": -180, "acc": 0}',
        b'{"seq": 9223372036854775808}',
        b'{"id": 18446744073709551616}',
        b'{"unknown": 1, "id": "x"}',
        b'{"id": "x", "\\u0000": 1}',
        b'"text"',
        b"5",
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    ],
)
@pytest.mark.parametrize("kind", ["heartbeat", "sos"])
def test_the_one_pass_reader_on_the_traps(body: bytes, kind: str) -> None:
    one_pass, full = _read_both(f"lw/v1/dev/fob-1/{kind}", body)
    assert repr(one_pass) == repr(full)


def test_the_one_pass_reading_is_made_as_its_constructor_makes_it() -> None:
    """Its `__dict__` is given whole (fast_payload.py): the same attributes in the same order
    as `DeviceReading(...)`'s, still frozen, and its two dicts its own (not one shared by
    every reading: a reading's `rejected_fields` is copied and extended later)."""
    import dataclasses

    one = parse_device_message("lw/v1/dev/fob-1/heartbeat", b'{"id":"m-1","battery":87}')
    other = parse_device_message("lw/v1/dev/fob-2/heartbeat", b'{"seq":3}')
    assert isinstance(one, DeviceReading) and isinstance(other, DeviceReading)
    made = DeviceReading("fob-1", "heartbeat", "m-1", None, None, None, None, 87, None, None)
    assert one == made
    assert list(vars(one).items()) == list(vars(made).items())
    assert one.rejected_fields is not other.rejected_fields
    assert one.extra is not other.extra
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.kind = "sos"  # type: ignore[misc]
