"""A reading's fields are stored as JSON, key order included: the way they are assembled
must keep `{**extra, **checked}` exactly (a checked field wins, in the extra's place)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.application.device_intake import _fields
from service.domain.devices.messages import DeviceReading

CHECKED = ("lat", "lon", "acc", "battery", "seq")
keys = st.sampled_from([*CHECKED, "source", "address", "x"]) | st.text(max_size=5)
numbers = st.none() | st.floats(allow_nan=False) | st.integers()


@given(
    extra=st.dictionaries(keys, st.integers() | st.text(max_size=5), max_size=6),
    checked=st.tuples(numbers, numbers, numbers, numbers, st.none() | st.integers()),
)
def test_fields_are_the_extra_overlaid_by_the_checked_ones(
    extra: dict[str, Any], checked: tuple[Any, ...]
) -> None:
    reading = DeviceReading(
        device_id="fob-1",
        kind="heartbeat",
        msg_id=None,
        device_ts=None,
        text=None,
        **dict(zip(CHECKED, checked, strict=True)),
        extra=extra,
    )
    expected = {**extra, **{k: v for k, v in zip(CHECKED, checked, strict=True) if v is not None}}
    made = _fields(reading)
    assert list(made.items()) == list(expected.items())
    assert made is not reading.extra
