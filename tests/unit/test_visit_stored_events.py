"""The visit's events out of school (service/domain/visits/away.py) are stored as they were
when `Visit` declared them itself: "a stored event's bytes never change shape (old stores
must replay)".

The bytes below were written by the code before the move (service/domain/visits/visit.py's
`@event` methods, commit a160eb3), topic and state, for one visit signed out at 09:00. They
must decode, under their old topics, to the aggregate's own classes and replay onto a visit;
and the same commands today must write the same bytes.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from service.domain.visits.states import VisitState
from service.domain.visits.visit import Visit
from tests.unit.test_visit_rules import FIT_DEVICE, NINE, POLICY, a_visit, authorised

_AT = '{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-23T%s+00:00"},'
STORED_BEFORE_THE_MOVE: list[tuple[str, str]] = [
    (
        "service.domain.visits.visit:Visit.Departed",
        _AT % "09:00:00" + '"by":"staff:s-jones","device":"sos-0001",'
        '"device_last_seen":{"_type_":"datetime_iso","_data_":"2026-11-23T09:00:00+00:00"},'
        '"device_battery":80,"policy":{"grace":600,"steps":[{"after":0,"do":"contact_staff"},'
        '{"after":600,"do":"reception_calls_home"},{"after":1200,"do":"inform_slt"}],'
        '"offline_after":180,"low_battery_below":20},'
        '"leave_deadline":{"_type_":"datetime_iso","_data_":"2026-11-23T09:55:00+00:00"},'
        '"return_deadline":{"_type_":"datetime_iso","_data_":"2026-11-23T10:10:00+00:00"}}',
    ),
    (
        "service.domain.visits.visit:Visit.Arrived",
        _AT % "09:05:00" + '"by":"staff:s-jones","via":"api"}',
    ),
    (
        "service.domain.visits.visit:Visit.CheckedIn",
        _AT % "09:06:00" + '"by":"staff:s-jones","via":"sms"}',
    ),
    (
        "service.domain.visits.visit:Visit.LeftProperty",
        _AT % "09:30:00" + '"by":"staff:s-jones","via":"api"}',
    ),
    (
        "service.domain.visits.visit:Visit.Returned",
        _AT % "09:40:00" + '"by":"staff:s-jones","via":"api"}',
    ),
]
NO_ANSWER = (
    "service.domain.visits.visit:Visit.NoAnswer",
    _AT % "09:05:00" + '"by":"staff:s-jones","via":"api"}',
)


@pytest.fixture
def mapper() -> Mapper[UUID]:
    """The library's mapper with the application's default transcodings (no store)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def stored(visit: Visit, topic: str, state: str) -> StoredEvent:
    return StoredEvent(
        originator_id=visit.id,
        originator_version=visit.version + 1,
        topic=topic,
        state=state.encode(),
    )


def out(visit: Visit) -> Visit:
    visit.depart(by="staff:s-jones", device=FIT_DEVICE, policy=POLICY, timestamp=NINE)
    return visit


def test_events_stored_under_the_old_topics_replay_onto_a_visit(mapper: Mapper[UUID]) -> None:
    visit = authorised(a_visit())
    for topic, state in STORED_BEFORE_THE_MOVE:
        event = mapper.to_domain_event(stored(visit, topic, state))
        assert type(event) is getattr(Visit, topic.rpartition(".")[2])
        assert type(event).__qualname__ == topic.partition(":")[2]
        event.mutate(visit)
        if topic.endswith("Departed"):
            assert visit.state is VisitState.DEPARTED
            assert visit.device == "sos-0001"
            assert visit.departed_at == NINE
            assert visit.return_deadline == NINE + timedelta(minutes=70)
    assert visit.state is VisitState.RETURNED

    other = authorised(a_visit(ref="v2"))
    mapper.to_domain_event(stored(other, *STORED_BEFORE_THE_MOVE[0])).mutate(other)
    mapper.to_domain_event(stored(other, *NO_ANSWER)).mutate(other)
    assert other.state is VisitState.LEFT and other.no_answer


def test_the_same_commands_today_store_the_same_topics_and_bytes(mapper: Mapper[UUID]) -> None:
    visit = authorised(a_visit())
    visit.collect_events()
    visit.depart(by="staff:s-jones", device=FIT_DEVICE, policy=POLICY, timestamp=NINE)
    visit.arrive(by="staff:s-jones", via="api", timestamp=NINE + timedelta(minutes=5))
    visit.check_in(by="staff:s-jones", via="sms", timestamp=NINE + timedelta(minutes=6))
    visit.leave(by="staff:s-jones", via="api", timestamp=NINE + timedelta(minutes=30))
    visit.return_(by="staff:s-jones", via="api", timestamp=NINE + timedelta(minutes=40))
    written = [mapper.to_stored_event(e) for e in visit.collect_events()]
    assert [(s.topic, s.state.decode()) for s in written] == STORED_BEFORE_THE_MOVE

    other = out(authorised(a_visit(ref="v2")))
    other.collect_events()
    other.record_no_answer(by="staff:s-jones", via="api", timestamp=NINE + timedelta(minutes=5))
    (event,) = other.collect_events()
    stored_now = mapper.to_stored_event(event)
    assert (stored_now.topic, stored_now.state.decode()) == NO_ANSWER


def test_the_moved_classes_are_the_aggregates_own() -> None:
    """Listed in the body, each is made `Visit.<name>` in visit.py's module (its topic)."""
    for name in ("Departed", "Arrived", "LeftProperty", "NoAnswer", "Returned", "CheckedIn"):
        cls = getattr(Visit, name)
        assert issubclass(cls, Aggregate.Event)
        assert (cls.__module__, cls.__qualname__) == (
            "service.domain.visits.visit",
            f"Visit.{name}",
        )
