"""The sealing store writes an event's state without the transcoder's hook: the bytes must be
the library mapper's, byte for byte, for any event (seals, Merkle leaves and every decoder
depend on them), and an event it cannot vouch for must go the library's way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.quick_mapper import QuickStates
from service.domain.alerts.alert import AlertKind
from service.domain.devices.messages import received

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=-5, minutes=-30))])
times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    # Where json and msgspec part ways: the exponent, NaN and the infinities.
    st.sampled_from([1e-4, 9.9999e-5, 1e16, 9999999999999998.0, 5e-324, -0.0, 1e-7, 1e22]),
    text,
    st.sampled_from(list(AlertKind)),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
# What the library's hook would be asked about, nested: must send the event the slow way.
hooked = st.one_of(times, st.uuids())
field_values = st.one_of(json_like, hooked, st.lists(hooked, min_size=1, max_size=2))


def _mapper(env: dict[str, str] | None = None) -> Mapper[Any]:
    return Application[Any](env or {}).mapper


MAPPERS = [
    _mapper(),
    _mapper({"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}),
]


@settings(max_examples=300)
@given(
    message_id=st.uuids(),
    device=text,
    kind=text,
    msg_id=st.none() | text,
    device_ts=st.none() | times,
    fields=st.dictionaries(text, field_values, max_size=6),
    school=text,
    staff=st.none() | text,
    timestamp=times,
    which=st.sampled_from(range(len(MAPPERS))),
)
def test_a_drawn_reading_is_stored_as_the_library_stores_it(
    message_id: UUID,
    device: str,
    kind: str,
    msg_id: str | None,
    device_ts: datetime | None,
    fields: dict[str, Any],
    school: str,
    staff: str | None,
    timestamp: datetime,
    which: int,
) -> None:
    event = received(
        message_id,
        device=device,
        kind=kind,
        msg_id=msg_id,
        device_ts=device_ts,
        fields=fields,
        school=school,
        staff=staff,
        timestamp=timestamp,
    )
    mapper = MAPPERS[which]
    expected = mapper.to_stored_event(event)
    quick = QuickStates(mapper).state_of(event)
    if quick is not None:
        assert quick == (expected.topic, expected.state)
        # Decoded, it is the event it was.
        assert mapper.to_domain_event(expected).__dict__ == event.__dict__ or _has_nan(fields)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return value != value
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


def test_a_heartbeat_takes_the_quick_way() -> None:
    # Otherwise the property above holds trivially (every event the slow way).
    now = datetime(2026, 12, 6, 8, 0, 1, 123456, tzinfo=UTC)
    event = received(
        UUID(int=7),
        device="fob-1",
        kind="heartbeat",
        msg_id="m-1",
        device_ts=now,
        fields={"battery": 87.5, "seq": 3},
        school="school-1",
        staff=None,
        timestamp=now,
    )
    mapper = _mapper()
    expected = mapper.to_stored_event(event)
    assert QuickStates(mapper).state_of(event) == (expected.topic, expected.state)


def test_a_nested_datetime_goes_the_library_way() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    event = received(
        UUID(int=7),
        device="fob-1",
        kind="heartbeat",
        msg_id=None,
        device_ts=None,
        fields={"when": now},
        school="school-1",
        staff=None,
        timestamp=now,
    )
    assert QuickStates(_mapper()).state_of(event) is None


BOUNDARY_FLOATS = [
    1e-4,
    9.9999e-5,
    1e16,
    5e16,
    9999999999999998.0,
    5e-324,
    -0.0,
    1e-7,
    1e22,
    float("nan"),
    float("inf"),
    -float("inf"),
]


def test_floats_where_the_encoders_part_ways_are_written_as_json_writes_them() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    mapper = _mapper()
    for value in BOUNDARY_FLOATS:
        for fields in ({"lat": value}, {"extra": [{"x": value}]}):
            event = received(
                UUID(int=7),
                device="fob-1",
                kind="location",
                msg_id=None,
                device_ts=None,
                fields=fields,
                school="school-1",
                staff=None,
                timestamp=now,
            )
            expected = mapper.to_stored_event(event)
            assert QuickStates(mapper).state_of(event) == (expected.topic, expected.state), value


def test_a_group_sharing_one_timestamp_is_stored_as_the_library_stores_it() -> None:
    """One store writes many events (it remembers the last timestamp written, by identity):
    each is written with its own times, shared or not, in any order."""
    mapper = _mapper()
    states = QuickStates(mapper)
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    equal_other = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    later = now + timedelta(microseconds=1)
    for number, (timestamp, device_ts) in enumerate(
        [(now, None), (now, None), (now, later), (later, now), (equal_other, None), (now, now)]
    ):
        event = received(
            UUID(int=number),
            device="fob-1",
            kind="heartbeat",
            msg_id=str(number),
            device_ts=device_ts,
            fields={"battery": 50},
            school="school-1",
            staff=None,
            timestamp=timestamp,
        )
        expected = mapper.to_stored_event(event)
        assert states.state_of(event) == (expected.topic, expected.state)


def test_events_of_several_classes_are_each_stored_with_their_own_topic_and_version() -> None:
    """The store remembers each event class's topic and `class_version` (quick_mapper.py):
    events of two classes, one upcast (`class_version` 2), alternating through one store, are
    each written as the library writes them."""
    from eventsourcing.domain import Aggregate

    class Older(Aggregate):
        class Started(Aggregate.Created):
            note: str

    class Newer(Aggregate):
        class Started(Aggregate.Created):
            class_version = 2
            note: str

    mapper = _mapper()
    states = QuickStates(mapper)
    for number in range(4):
        cls = (Older, Newer)[number % 2]
        aggregate = cls._create(cls.Started, id=UUID(int=number), note=f"n{number}")
        (event,) = aggregate.collect_events()
        expected = mapper.to_stored_event(event)
        assert states.state_of(event) == (expected.topic, expected.state)
