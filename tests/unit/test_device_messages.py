"""Device message translation (INTERFACES.md section 2): what is accepted, what is refused, why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from device_gateway.messages import (
    DEVICE_KINDS,
    DeviceReading,
    Rejection,
    RejectReason,
    alarm_subscriptions,
    alerts_topic,
    cmd_topic,
    device_topic_filter,
    normalise_prefix,
    parse_device_message,
    topic_levels,
)


def reading(topic: str, payload: bytes = b"", *, prefix: str = "") -> DeviceReading:
    result = parse_device_message(topic, payload, prefix=prefix)
    assert isinstance(result, DeviceReading), result
    return result


def rejection(topic: str, payload: bytes = b"", *, prefix: str = "") -> Rejection:
    result = parse_device_message(topic, payload, prefix=prefix)
    assert isinstance(result, Rejection), result
    return result


def body(**fields: object) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


# -- topics -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", DEVICE_KINDS)
def test_every_device_kind_is_accepted_on_its_topic(kind: str) -> None:
    result = reading(f"lw/v1/dev/sos-0001/{kind}", b"{}")
    assert (result.device_id, result.kind) == ("sos-0001", kind)


@pytest.mark.parametrize("device_id", ["a", "A-Z_0-9", "x" * 64, "sos-0001", "___", "-"], ids=repr)
def test_device_ids_of_1_to_64_letters_digits_dash_underscore_are_accepted(
    device_id: str,
) -> None:
    assert reading(f"lw/v1/dev/{device_id}/sos").device_id == device_id


@pytest.mark.parametrize(
    "device_id", ["", "x" * 65, "a.b", "a b", "fob:1", "dévice", "a$"], ids=repr
)
def test_device_ids_outside_the_contract_are_a_bad_topic(device_id: str) -> None:
    refused = rejection(f"lw/v1/dev/{device_id}/sos")
    assert refused.reason is RejectReason.bad_topic
    assert refused.device_id is None  # not trusted, so not reported as a device
    assert "A-Z a-z 0-9 _ -" in refused.detail


@pytest.mark.parametrize(
    "topic",
    [
        "lw/v1/dev/sos-0001",
        "lw/v1/dev/sos-0001/sos/extra",
        "lw/v2/dev/sos-0001/sos",
        "lw/v1/devices/sos-0001/sos",
        "/lw/v1/dev/sos-0001/sos",
        "",
    ],
    ids=repr,
)
def test_topics_of_another_shape_are_a_bad_topic(topic: str) -> None:
    refused = rejection(topic)
    assert refused.reason is RejectReason.bad_topic
    assert "lw/v1/dev/{device_id}/{kind}" in refused.detail


@pytest.mark.parametrize("kind", ["alarm", "SOS", "status", ""])
def test_unknown_kinds_are_refused_naming_the_known_ones(kind: str) -> None:
    refused = rejection(f"lw/v1/dev/sos-0001/{kind}", b"{}")
    assert refused.reason is RejectReason.unknown_kind
    assert (refused.device_id, refused.kind) == ("sos-0001", kind)
    assert all(known in refused.detail for known in DEVICE_KINDS)


@pytest.mark.parametrize("payload", [b"", b'{"type": "alert_received"}', b"\xff not json"])
def test_the_services_own_cmd_topic_is_ignored_not_rejected(payload: bytes) -> None:
    """The filter lw/v1/dev/+/+ also matches lw/v1/dev/{id}/cmd, which we publish."""
    assert parse_device_message("lw/v1/dev/sos-0001/cmd", payload) is None
    assert parse_device_message("site/lw/v1/dev/sos-0001/cmd", payload, prefix="site") is None


# -- prefix -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("", ""), ("site", "site/"), ("site/", "site/"), ("a/b", "a/b/"), ("a/b/", "a/b/")],
)
def test_normalise_prefix_adds_one_trailing_slash(given: str, expected: str) -> None:
    assert normalise_prefix(given) == expected


@pytest.mark.parametrize("prefix", ["lwtest-ab12/", "lwtest-ab12", "tenant/east/"])
def test_prefixed_topics_are_read_with_the_prefix_removed(prefix: str) -> None:
    topic = f"{normalise_prefix(prefix)}lw/v1/dev/sos-0001/sos"
    assert reading(topic, prefix=prefix).device_id == "sos-0001"


def test_a_topic_outside_the_prefix_is_a_bad_topic_naming_the_expected_shape() -> None:
    refused = rejection("lw/v1/dev/sos-0001/sos", prefix="site")
    assert refused.reason is RejectReason.bad_topic
    assert "'site/lw/v1/dev/{device_id}/{kind}'" in refused.detail


def test_a_prefixed_topic_without_a_prefix_configured_is_a_bad_topic() -> None:
    assert rejection("site/lw/v1/dev/sos-0001/sos").reason is RejectReason.bad_topic


@pytest.mark.parametrize(
    ("prefix", "filter_", "cmd", "alerts"),
    [
        ("", "lw/v1/dev/+/+", "lw/v1/dev/fob-1/cmd", "lw/v1/alerts/lancaster"),
        (
            "t1",
            "t1/lw/v1/dev/+/+",
            "t1/lw/v1/dev/fob-1/cmd",
            "t1/lw/v1/alerts/lancaster",
        ),
        (
            "t1/",
            "t1/lw/v1/dev/+/+",
            "t1/lw/v1/dev/fob-1/cmd",
            "t1/lw/v1/alerts/lancaster",
        ),
    ],
)
def test_topic_builders(prefix: str, filter_: str, cmd: str, alerts: str) -> None:
    assert device_topic_filter(prefix) == filter_
    assert cmd_topic(prefix, "fob-1") == cmd
    assert alerts_topic(prefix, "lancaster") == alerts


@pytest.mark.parametrize("device_id", ["+", "#", "a/b", "", "x" * 65])
def test_cmd_topic_refuses_a_device_id_that_would_change_the_topic(device_id: str) -> None:
    with pytest.raises(ValueError, match="device id"):
        cmd_topic("", device_id)


@pytest.mark.parametrize("school_id", ["+", "#", "a/b", ""])
def test_alerts_topic_refuses_a_school_id_that_is_not_one_level(school_id: str) -> None:
    with pytest.raises(ValueError, match="school id"):
        alerts_topic("", school_id)


# -- empty payloads -----------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b" ", b"\n", b" \t\r\n "], ids=repr)
@pytest.mark.parametrize("kind", ["sos", "heartbeat", "checkin", "fall"])
def test_an_empty_payload_is_valid_for_a_cheap_fob(kind: str, payload: bytes) -> None:
    """'An empty payload is valid for sos, heartbeat, checkin and fall.'"""
    assert reading(f"lw/v1/dev/fob-1/{kind}", payload) == DeviceReading(
        device_id="fob-1",
        kind=kind,
        msg_id=None,
        device_ts=None,
        lat=None,
        lon=None,
        acc=None,
        battery=None,
        text=None,
        seq=None,
    )


@pytest.mark.parametrize("payload", [b"", b"  \n"], ids=repr)
@pytest.mark.parametrize(
    ("kind", "needs"),
    [("message", '"text"'), ("battery", '"battery"'), ("location", '"lat" and "lon"')],
)
def test_an_empty_payload_for_other_kinds_says_which_fields_they_need(
    kind: str, needs: str, payload: bytes
) -> None:
    refused = rejection(f"lw/v1/dev/fob-1/{kind}", payload)
    assert refused.reason is RejectReason.bad_json
    assert (refused.device_id, refused.kind) == ("fob-1", kind)
    assert needs in refused.detail
    assert "sos, heartbeat, checkin, fall" in refused.detail


# -- accepted payloads ------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"id": "m-1"}, "msg_id", "m-1"),
        ({"id": 42}, "msg_id", "42"),
        ({"id": "x" * 128}, "msg_id", "x" * 128),
        ({"ts": "2025-03-01T09:30:00Z"}, "device_ts", T0),
        ({"ts": "2025-03-01T09:30:00+00:00"}, "device_ts", T0),
        ({"ts": "2025-03-01T10:30:00+01:00"}, "device_ts", T0),
        ({"ts": "2025-03-01T04:30:00-05:00"}, "device_ts", T0),
        ({"ts": "2025-03-01T09:30:00.250Z"}, "device_ts", T0 + timedelta(milliseconds=250)),
        ({"ts": "2025-03-01T09:30:00"}, "device_ts", T0),  # naive: taken as UTC
        ({"ts": int(T0.timestamp() * 1000)}, "device_ts", T0),
        ({"ts": int(T0.timestamp() * 1000) + 7}, "device_ts", T0 + timedelta(milliseconds=7)),
        ({"ts": 0}, "device_ts", datetime(1970, 1, 1, tzinfo=UTC)),
        ({"lat": 51.54}, "lat", 51.54),
        ({"lat": -90}, "lat", -90.0),
        ({"lat": 90}, "lat", 90.0),
        ({"lon": 0.71}, "lon", 0.71),
        ({"lon": -180}, "lon", -180.0),
        ({"lon": 180.0}, "lon", 180.0),
        ({"acc": 0}, "acc", 0.0),
        ({"acc": 12.5}, "acc", 12.5),
        ({"battery": 0}, "battery", 0),
        ({"battery": 100}, "battery", 100),
        ({"battery": 37}, "battery", 37),
        ({"text": "running late"}, "text", "running late"),
        ({"text": ""}, "text", ""),
        ({"text": "é" * 1000}, "text", "é" * 1000),
        ({"seq": 0}, "seq", 0),
        ({"seq": 2**63 - 1}, "seq", 2**63 - 1),
        ({"id": None}, "msg_id", None),  # null is the same as absent
    ],
    ids=lambda value: value[:30] if isinstance(value, str) else None,
)
def test_each_field_is_accepted_in_its_valid_forms(
    fields: dict[str, object], attribute: str, expected: object
) -> None:
    result = reading("lw/v1/dev/fob-1/message", body(**fields))
    assert getattr(result, attribute) == expected


@pytest.mark.parametrize(
    "ts",
    [
        "2099-12-31T23:59:59Z",
        4102444799000,
        "1999-01-01T00:00:00+00:00",
        915148800000,
    ],
)
def test_a_device_clock_in_the_future_or_the_past_is_kept_as_sent(ts: object) -> None:
    """'The service's receipt time is authoritative; the device's ts is kept beside it.'"""
    result = reading("lw/v1/dev/fob-1/sos", body(ts=ts)).device_ts
    assert result is not None
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(0)


def test_a_full_location_message_is_read_completely() -> None:
    payload = body(
        id="loc-9", ts="2025-03-01T09:30:00Z", lat=51.5, lon=0.7, acc=8, battery=64, seq=9
    )
    assert reading("lw/v1/dev/fob-1/location", payload) == DeviceReading(
        device_id="fob-1",
        kind="location",
        msg_id="loc-9",
        device_ts=T0,
        lat=51.5,
        lon=0.7,
        acc=8.0,
        battery=64,
        text=None,
        seq=9,
    )


def test_unknown_extra_fields_are_ignored() -> None:
    result = reading("lw/v1/dev/fob-1/sos", body(id="s1", firmware="2.1", rssi=-70, x=[1, 2]))
    assert result.msg_id == "s1"


def test_a_payload_of_exactly_4096_bytes_is_accepted() -> None:
    base = body(pad="")
    padded = body(pad="x" * (4096 - len(base)))
    assert len(padded) == 4096
    assert reading("lw/v1/dev/fob-1/sos", padded).kind == "sos"


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    payload = "\ufeff".encode() + body(id="s1")
    assert reading("lw/v1/dev/fob-1/sos", payload).msg_id == "s1"


# -- refused payloads ----------------------------------------------------------------


def test_a_payload_over_4_kib_is_oversize_and_says_the_limit() -> None:
    refused = rejection("lw/v1/dev/fob-1/sos", b" " * 4097)
    assert refused.reason is RejectReason.oversize
    assert (refused.device_id, refused.kind) == ("fob-1", "sos")
    assert "4097 bytes" in refused.detail
    assert "4096" in refused.detail


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"\xff", "byte 0"),
        (b'{"text": "caf\xe9"}', "byte 13"),  # Latin-1, not UTF-8
        (b'{"text": "\xc3"}', "byte 10"),  # truncated sequence
    ],
    ids=["invalid-start", "latin1", "truncated"],
)
def test_a_payload_that_is_not_utf8_is_bad_encoding(payload: bytes, where: str) -> None:
    refused = rejection("lw/v1/dev/fob-1/message", payload)
    assert refused.reason is RejectReason.bad_encoding
    assert "UTF-8" in refused.detail
    assert where in refused.detail


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"{", "line 1 column 2"),
        (b'{"battery": 5,}', "line 1"),
        (b"{'battery': 5}", "double quotes"),
        (b"sos", "not valid JSON"),
        (b"[" * 4096, "nested too deeply"),
    ],
    ids=["truncated", "trailing-comma", "single-quotes", "bare-word", "deep"],
)
def test_a_payload_that_is_not_json_is_bad_json(payload: bytes, detail: str) -> None:
    refused = rejection("lw/v1/dev/fob-1/sos", payload)
    assert refused.reason is RejectReason.bad_json
    assert detail in refused.detail


@pytest.mark.parametrize(
    ("payload", "got"),
    [
        (b"[]", "an array"),
        (b'[{"battery": 5}]', "an array"),
        (b'"sos"', "a string"),
        (b"42", "a number"),
        (b"true", "a boolean"),
        (b"null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_refused(payload: bytes, got: str) -> None:
    refused = rejection("lw/v1/dev/fob-1/sos", payload)
    assert refused.reason is RejectReason.not_an_object
    assert refused.detail == f"payload must be a JSON object {{...}}, got {got}"


@pytest.mark.parametrize(
    ("fields", "reason", "detail"),
    [
        ({"battery": "full"}, "bad_field", "field 'battery' must be an integer 0-100, got 'full'"),
        (
            {"battery": True},
            "bad_field",
            "field 'battery' must be an integer 0-100, got true (a boolean)",
        ),
        ({"battery": 101}, "out_of_range", "field 'battery' must be an integer 0-100, got 101"),
        ({"battery": -1}, "out_of_range", "field 'battery' must be an integer 0-100, got -1"),
        ({"battery": 50.5}, "bad_field", "field 'battery' must be an integer 0-100, got 50.5"),
        ({"battery": 50.0}, "bad_field", "field 'battery' must be an integer 0-100, got 50.0"),
        ({"lat": 90.01}, "out_of_range", "field 'lat' must be a number -90 to 90, got 90.01"),
        ({"lat": 10**400}, "out_of_range", "field 'lat' must be a number -90 to 90, got 1000"),
        ({"lat": "51.5"}, "bad_field", "field 'lat' must be a number -90 to 90, got '51.5'"),
        (
            {"lat": False},
            "bad_field",
            "field 'lat' must be a number -90 to 90, got false (a boolean)",
        ),
        ({"lon": -180.5}, "out_of_range", "field 'lon' must be a number -180 to 180, got -180.5"),
        ({"lon": [0.7]}, "bad_field", "field 'lon' must be a number -180 to 180, got [0.7]"),
        ({"acc": -1}, "out_of_range", "field 'acc' must be a number 0 to 2e+07, got -1"),
        ({"acc": 10**400}, "out_of_range", "field 'acc' must be a number 0 to 2e+07, got 1000"),
        (
            {"id": ""},
            "bad_field",
            "field 'id' must be a string of 1-128 characters or an integer, got ''",
        ),
        (
            {"id": 1.5},
            "bad_field",
            "field 'id' must be a string of 1-128 characters or an integer, got 1.5",
        ),
        (
            {"id": True},
            "bad_field",
            "field 'id' must be a string of 1-128 characters or an integer, got true",
        ),
        (
            {"id": {"n": 1}},
            "bad_field",
            "field 'id' must be a string of 1-128 characters or an integer",
        ),
        (
            {"id": "x" * 129},
            "bad_field",
            "field 'id' must be a string of 1-128 characters or an integer",
        ),
        ({"text": 5}, "bad_field", "field 'text' must be a string of at most 1000 characters"),
        (
            {"text": "x" * 1001},
            "bad_field",
            "field 'text' must be a string of at most 1000 characters",
        ),
        ({"seq": "7"}, "bad_field", "field 'seq' must be an integer from 0 to 2^63-1, got '7'"),
        ({"seq": -1}, "out_of_range", "field 'seq' must be an integer from 0 to 2^63-1, got -1"),
        ({"seq": 2**63}, "out_of_range", "field 'seq' must be an integer from 0 to 2^63-1"),
        ({"ts": "yesterday"}, "bad_field", "field 'ts' must be an ISO 8601 string with a timezone"),
        (
            {"ts": "01/03/2025 09:30"},
            "bad_field",
            "or epoch milliseconds as an integer, got '01/03/2025",
        ),
        (
            {"ts": 1.7e12},
            "bad_field",
            "or epoch milliseconds as an integer, got 1700000000000.0",
        ),
        ({"ts": True}, "bad_field", "or epoch milliseconds as an integer, got true (a boolean)"),
        ({"ts": 10**20}, "bad_date", "100000000000000000000 is out of range"),
        ({"ts": 253402300800000}, "bad_date", "from year 0001 to 9999"),  # 10000-01-01
        ({"ts": -62135596800001}, "bad_date", "from year 0001 to 9999"),  # before year 1
        ({"ts": "0001-01-01T00:00:00+01:00"}, "bad_date", "got '0001-01-01T00:00:00+01:00'"),
        ({"ts": "9999-12-31T23:00:00-05:00"}, "bad_date", "from year 0001 to 9999 in UTC"),
        ({"ts": "10000-01-01T00:00:00Z"}, "bad_field", "got '10000-01-01T00:00:00Z'"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value[:40],
)
def test_a_bad_field_is_refused_saying_exactly_what_to_fix(
    fields: dict[str, object], reason: str, detail: str
) -> None:
    refused = rejection("lw/v1/dev/fob-1/battery", body(**fields))
    assert refused.reason == reason
    assert (refused.device_id, refused.kind) == ("fob-1", "battery")
    assert detail in refused.detail


def test_an_overflowing_number_is_refused_as_not_finite() -> None:
    refused = rejection("lw/v1/dev/fob-1/location", b'{"lat": 1e400, "lon": 0}')
    assert refused.reason is RejectReason.not_finite
    assert refused.detail == "field 'lat' must be a number -90 to 90, got Infinity"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_as_not_finite(literal: str) -> None:
    """json.loads accepts them by default; no store should."""
    refused = rejection("lw/v1/dev/fob-1/location", b'{"lat": %s, "lon": 0}' % literal.encode())
    assert refused.reason is RejectReason.not_finite
    assert refused.detail == f"field 'lat' must be a number -90 to 90, got {literal}"


@pytest.mark.parametrize("name", ["battery", "seq", "ts", "acc"])
def test_nan_is_not_finite_in_any_number_field(name: str) -> None:
    refused = rejection("lw/v1/dev/fob-1/heartbeat", b'{"%s": NaN}' % name.encode())
    assert refused.reason is RejectReason.not_finite
    assert refused.detail.endswith("got NaN")


def test_nan_in_an_unknown_field_is_refused_too() -> None:
    refused = rejection("lw/v1/dev/fob-1/heartbeat", b'{"id": "h1", "temp": [1, NaN]}')
    assert refused.reason is RejectReason.not_finite
    assert "field 'temp' holds NaN" in refused.detail


# JSON escapes: what a device's encoder sends when it splits an emoji wrongly.
LONE_SURROGATES = [b'"\\ud800"', b'"x\\udfff"', b'"\\udc00\\ud800"', b'"a\\u0000b"']


@pytest.mark.parametrize("escaped", LONE_SURROGATES)
@pytest.mark.parametrize("name", ["id", "text"])
def test_a_lone_surrogate_or_nul_in_a_string_is_refused_as_unstorable_text(
    escaped: bytes, name: str
) -> None:
    refused = rejection("lw/v1/dev/fob-1/message", b'{"%s": %s}' % (name.encode(), escaped))
    assert refused.reason is RejectReason.unstorable_text
    assert f"field '{name}' holds a lone surrogate" in refused.detail
    refused.detail.encode("utf-8")  # the detail itself is storable


@pytest.mark.parametrize(
    "payload",
    [b'{"fw": "\\ud800"}', b'{"\\ud800": 1}', b'{"x": {"y": ["\\udfff"]}}'],
    ids=["value", "key", "nested"],
)
def test_a_lone_surrogate_anywhere_in_the_payload_is_refused(payload: bytes) -> None:
    refused = rejection("lw/v1/dev/fob-1/heartbeat", payload)
    assert refused.reason is RejectReason.unstorable_text
    refused.detail.encode("utf-8")


def test_an_sos_with_an_unusable_id_raises_the_alarm_without_the_id() -> None:
    """The alarm must not be lost: the `id` is dropped (so the press cannot be deduplicated,
    and a repeat joins the open alert instead), and the reason is kept."""
    result = reading("lw/v1/dev/fob-1/sos", b'{"id": "\\ud800", "lat": NaN, "battery": 101}')
    assert (result.kind, result.msg_id, result.lat, result.battery) == ("sos", None, None, None)
    assert set(result.rejected_fields) == {"id", "lat", "battery"}
    json.dumps(result.rejected_fields, ensure_ascii=False).encode("utf-8")


def test_an_alarm_with_a_bad_value_nested_in_an_unknown_field_still_goes_through() -> None:
    result = reading("lw/v1/dev/fob-1/fall", b'{"id": "f-1", "\\ud800": [NaN]}')
    assert result.msg_id == "f-1"
    assert list(result.rejected_fields) == ["\\ud800"]


def test_every_bad_field_is_reported_at_once() -> None:
    refused = rejection("lw/v1/dev/fob-1/location", body(lat=91, lon="east", battery="full"))
    assert refused.detail.count("field '") == 3
    assert all(f"field '{name}'" in refused.detail for name in ("lat", "lon", "battery"))


def test_a_long_bad_value_is_shortened_in_the_detail() -> None:
    refused = rejection("lw/v1/dev/fob-1/battery", body(battery="x" * 3000))
    assert len(refused.detail) < 200
    assert refused.detail.endswith("...")


def test_checks_run_in_order_topic_size_encoding_json() -> None:
    oversize_bad_utf8 = b"\xff" * 5000
    assert rejection("lw/v1/dev/a b/sos", oversize_bad_utf8).reason is RejectReason.bad_topic
    assert rejection("lw/v1/dev/fob-1/nope", oversize_bad_utf8).reason is (
        RejectReason.unknown_kind
    )
    assert rejection("lw/v1/dev/fob-1/sos", oversize_bad_utf8).reason is RejectReason.oversize
    assert rejection("lw/v1/dev/fob-1/sos", b"\xff{").reason is RejectReason.bad_encoding


@pytest.mark.parametrize(
    ("prefix", "group", "expected"),
    [
        ("", "", ["lw/v1/dev/+/fall", "lw/v1/dev/+/sos"]),
        ("site", "", ["site/lw/v1/dev/+/fall", "site/lw/v1/dev/+/sos"]),
        ("", "gw", ["$share/gw/lw/v1/dev/+/fall", "$share/gw/lw/v1/dev/+/sos"]),
    ],
)
def test_the_alarm_session_subscribes_to_sos_and_fall_only(
    prefix: str, group: str, expected: list[str]
) -> None:
    assert alarm_subscriptions(prefix, group) == expected


@pytest.mark.parametrize(
    ("topic", "levels"),
    [
        ("p/lw/v1/dev/fob-1/sos", ("fob-1", "sos")),
        ("p/lw/v1/dev/a b/sos", ("a b", "sos")),  # unchecked: the parser refuses it
        ("p/lw/v1/dev/fob-1", None),
        ("q/lw/v1/dev/fob-1/sos", None),
    ],
)
def test_topic_levels_tell_an_alarm_apart_before_parsing(
    topic: str, levels: tuple[str, str] | None
) -> None:
    assert topic_levels(topic, "p") == levels


def test_a_topic_with_a_level_too_many_is_refused_naming_the_device() -> None:
    """The refusal's log line says whose firmware to fix."""
    from device_gateway.messages import main_subscriptions

    refused = parse_device_message("site/lw/v1/dev/fob-7/sos/press", b"{}", prefix="site")
    assert isinstance(refused, Rejection)
    assert (refused.reason, refused.device_id) == (RejectReason.bad_topic, "fob-7")
    refused = parse_device_message("site/lw/v1/dev/fob-7", b"{}", prefix="site")
    assert isinstance(refused, Rejection) and refused.device_id == "fob-7"
    assert main_subscriptions("site", "gw") == [
        "$share/gw/site/lw/v1/dev/+/+",
        "$share/gw/site/lw/v1/dev/+",
        "$share/gw/site/lw/v1/dev/+/+/+/#",
    ]
