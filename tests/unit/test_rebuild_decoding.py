"""A rebuild's decoder (projections/decoding.py) makes, from a stored row, the very event the
library's mapper makes: same class, same attributes in the same order, same types. The
views it feeds must come out byte for byte as the catch-up's, which uses the mapper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.decoding import RowDecoder
from service.adapters.sealing import MAGIC, SealingMapper
from service.domain.devices.messages import DeviceMessage


def a_mapper(sealing: bool = True) -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return SealingMapper(transcoder) if sealing else Mapper(transcoder)


# What a device's fields may hold once stored: any JSON, and the values the library
# transcodes, nested anywhere; keys that look like a transcoding's own.
KEYS = st.sampled_from(["battery", "seq", "lat", "_type_", "_data_", "text", "é", ""]) | st.text(
    max_size=8
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too: msgspec keeps them ints, as json does
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities go the mapper's way
    | st.text(st.characters(blacklist_categories=["Cs"]))  # a lone surrogate cannot be stored
    | st.sampled_from(["_type_", "_data_", '"_type_"', "uuid_hex", "datetime_iso"])
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC))
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
LOOK_ALIKES = st.fixed_dictionaries({"_type_": st.sampled_from(["uuid_hex", "nope"])}).map(
    lambda d: {**d, "_data_": "0" * 32}
)
"""A stored dictionary the library's hook takes for a transcoded value (or refuses)."""


def stored(mapper: Mapper[UUID], event: Any, sealed: bool) -> StoredEvent:
    row = mapper.to_stored_event(event)
    state = MAGIC + bytes(32) + row.state if sealed else row.state
    return StoredEvent(row.originator_id, row.originator_version, row.topic, state)


def decoded_alike(mapper: Mapper[UUID], row: StoredEvent) -> None:
    try:
        expected: Any = mapper.to_domain_event(row)
    except Exception as exc:
        with pytest.raises(type(exc)):
            RowDecoder(mapper)((1, row.originator_id, row.originator_version, row.topic, row.state))
        return
    decoder = RowDecoder(mapper)
    for _ in range(2):  # the second time with what it learned of the event's shape
        got = decoder((1, row.originator_id, row.originator_version, row.topic, row.state))
        assert type(got) is type(expected)
        assert list(vars(got)) == list(vars(expected))
        # repr: NaN equals itself, and 1 is not 1.0 nor True
        assert repr(vars(got)) == repr(vars(expected))


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(KEYS, VALUES | LOOK_ALIKES, max_size=5),
    device_ts=st.none() | st.datetimes(timezones=st.just(UTC)),
    sealed=st.booleans(),
    sealing=st.booleans(),
)
def test_a_rebuild_decodes_every_stored_event_to_what_the_mapper_makes(
    fields: dict[str, Any], device_ts: datetime | None, sealed: bool, sealing: bool
) -> None:
    mapper = a_mapper(sealing)
    message = DeviceMessage(
        device="sos-0001",
        kind="heartbeat",
        message_id=None,
        device_ts=device_ts,
        fields=fields,
        school="lancaster",
        staff="s-jones",
        timestamp=datetime(2026, 12, 6, 9, 0, tzinfo=UTC) + timedelta(microseconds=1),
    )
    (event,) = message.collect_events()
    try:
        row = stored(mapper, event, sealed and sealing)
    except (UnicodeEncodeError, ValueError):
        return  # not storable in the first place
    decoded_alike(mapper, row)


def test_odd_json_goes_the_mappers_way() -> None:
    """What msgspec reads otherwise than the standard library, or refuses, decodes (or
    fails) as the mapper has it."""
    mapper = a_mapper(sealing=False)
    topic = "service.domain.devices.messages:DeviceMessage.Received"
    stamp = '{"_type_":"datetime_iso","_data_":"2026-12-06T09:00:00+00:00"}'
    for fields in (
        '{"x":NaN}',
        '{"x":1e400}',
        '{"x":"\\ud800"}',
        '{"x":123456789012345678901234567890}',
        '{"x":{"_type_":"unknown","_data_":1}}',
        '{"x":{"_type_":"decimal_str","_data_":"1.50"}}',
    ):
        state = (
            f'{{"timestamp":{stamp},"originator_topic":"x","device":"d","kind":"heartbeat",'
            f'"message_id":null,"device_ts":null,"fields":{fields},"school":"s","staff":null}}'
        )
        decoded_alike(mapper, StoredEvent(UUID(int=1), 1, topic, state.encode()))
    assert (
        Decimal("1.50")
        == RowDecoder(mapper)((1, UUID(int=1), 1, topic, state.encode())).fields["x"]
    )
