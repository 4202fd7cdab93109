"""A plain reading is recorded as its one event, without an aggregate: the stored event
must be the one `DeviceMessage(...)` would have recorded, byte for byte, so a store written
either way loads and replays the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from service.domain.devices.messages import DeviceMessage, received
from service.domain.ids import device_message_id


def _mapper() -> Mapper[Any]:
    from eventsourcing.application import Application

    return Application[Any]().mapper


def test_a_fact_is_stored_exactly_as_the_aggregate_would_store_it() -> None:
    now = datetime(2026, 12, 6, 8, 0, 1, 123456, tzinfo=UTC)
    sent = datetime(2026, 12, 6, 7, 59, 59, tzinfo=UTC)
    fields: dict[str, Any] = {"battery": 87, "lat": 51.5, "lon": -0.12, "seq": 3}
    aggregate = DeviceMessage(
        device="fob-1",
        kind="location",
        message_id="m-1",
        device_ts=sent,
        fields=dict(fields),
        school="school-1",
        staff="st-1",
        timestamp=now,
    )
    (expected,) = aggregate.collect_events()
    fact = received(
        device_message_id("fob-1", "m-1"),
        device="fob-1",
        kind="location",
        msg_id="m-1",
        device_ts=sent,
        fields=dict(fields),
        school="school-1",
        staff="st-1",
        timestamp=now,
    )
    mapper = _mapper()
    assert mapper.to_stored_event(fact) == mapper.to_stored_event(expected)
    assert fact.originator_topic == get_topic(DeviceMessage)
    loaded = mapper.to_domain_event(mapper.to_stored_event(fact))
    message = loaded.mutate(None)
    assert isinstance(message, DeviceMessage)
    assert (message.device, message.kind, message.fields) == ("fob-1", "location", fields)
    assert message.received_at == now


def test_a_fact_is_the_object_the_events_own_init_makes() -> None:
    """`received` fills the event's fields itself (its frozen dataclass's `__init__` costs
    four times as much): every field, in the declared order, and the library's one check."""
    from dataclasses import fields

    import pytest
    from eventsourcing.domain import DomainEvent

    fact = received(
        device_message_id("fob-1", "m-1"),
        device="fob-1",
        kind="heartbeat",
        msg_id="m-1",
        device_ts=None,
        fields={"battery": 87},
        school="school-1",
        staff=None,
        timestamp=datetime(2026, 12, 6, 8, 0, 1, tzinfo=UTC),
    )
    event_class = DeviceMessage.Received  # type: ignore[attr-defined]
    assert list(vars(fact)) == [f.name for f in fields(event_class)]
    by_init = event_class(**vars(fact))
    assert fact == by_init and list(vars(by_init)) == list(vars(fact))
    assert event_class.__post_init__ is DomainEvent.__post_init__  # the check made here
    with pytest.raises(TypeError, match="non-UUID originator_id"):
        received(
            "not-a-uuid",  # type: ignore[arg-type]
            device="fob-1",
            kind="heartbeat",
            msg_id=None,
            device_ts=None,
            fields={},
            school="school-1",
            staff=None,
            timestamp=datetime(2026, 12, 6, tzinfo=UTC),
        )
