"""'The views and the Merkle log follow from the batch the gateway has just committed ... The
view store must never skip or double-apply an event.' (issue 12, lever 1)

The gateway hands each committed group to the live views and the Merkle log in process;
they apply it without reading it back only when it continues exactly where they stand.
Whatever the interleaving of handed groups, another writer (a second process), another
follower moving the same views, lost hand-overs and restarts, once everything is followed
the views equal a rebuild from the log, and the Merkle log holds one leaf per stored event,
in order.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from device_gateway.messages import DeviceReading, parse_device_message
from projections.projector import Projector
from projections.store import ViewStore, open_view_store
from projections.views import project
from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_leaf_data import notification_leaf
from service.adapters.merkle_log import MerkleLog
from service.adapters.merkle_tree import leaf_hash
from service.application.device_intake import DeviceIntake
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.workers.live import LiveViews
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts
from tests.devices import payload, topic
from tests.invariants.budget import CI, POSTGRES, TIMEOUT, run
from tests.invariants.harness import sqlite_store
from tests.worlds import a_trust_with_lone_visitors

DEVICES = ("sos-0001", "sos-0002")
WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _reading(device: str, kind: str, **fields: Any) -> DeviceReading:
    reading = parse_device_message(topic(device, kind), payload(**fields))
    assert isinstance(reading, DeviceReading)
    return reading


def _nothing_stored(kind: str, doc_id: str) -> None:
    return None


def _row(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _snapshot(views: ViewStore) -> tuple[list[Any], list[Any]]:
    """Every document (as JSON values) and index row: SQLite and PostgreSQL alike."""
    with views._reading() as cur:
        cur.execute("SELECT kind, id, school, state, doc FROM lw_view_docs ORDER BY kind, id")
        docs = [
            (*_row(row)[:4], json.loads(d) if isinstance(d := _row(row)[4], str) else d)
            for row in cur.fetchall()
        ]
        cur.execute(
            "SELECT subject, position, originator_id, originator_version FROM lw_view_index "
            "ORDER BY subject, position"
        )
        index = [tuple(str(v) for v in _row(row)) for row in cur.fetchall()]
    return docs, index


class HandedAndRead(RuleBasedStateMachine):
    database: Callable[[], AbstractContextManager[str]] = staticmethod(sqlite_store)

    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self._database = self.database()
        self.url = self._database.__enter__()
        self.clock = FakeClock(WHEN)
        self.world = a_trust_with_lone_visitors(self.url, self.clock)
        # Another process on the same store: its commits are never handed over here.
        self.other = Lonewatch(eventsourcing_env(self.url), self.clock)
        self.other_intake = DeviceIntake(self.other)
        self.merkle = MerkleLog(self.world.app.recorder)
        self._start_views()
        self.world.intake.on_committed.append(
            lambda done: self.merkle.hand_over([n for n, _ in done])
        )
        self.sent = 0

    def _start_views(self) -> None:
        self.projector = Projector(
            self.world.app.recorder, self.world.app.mapper, self.world.views, batch_size=7
        )
        self.live = LiveViews(self.projector)
        self.world.intake.on_committed[:] = [
            f for f in self.world.intake.on_committed if getattr(f, "__self__", None) is None
        ]
        self.world.intake.on_committed.insert(0, self.live.hand_over)

    def _next(self) -> str:
        self.sent += 1
        self.clock.advance(timedelta(seconds=1))
        return f"m{self.sent}"

    @rule(
        device=st.sampled_from(DEVICES),
        kinds=st.lists(
            st.sampled_from(["heartbeat", "battery", "location", "checkin"]),
            min_size=1,
            max_size=12,
        ),
        battery=st.integers(0, 100),
    )
    def gateway_group(self, device: str, kinds: list[str], battery: int) -> None:
        readings = [
            _reading(device, kind, id=self._next(), battery=battery, lat=51.5, lon=-0.1, acc=5.0)
            for kind in kinds
        ]
        self.world.intake.record(readings)

    @rule(device=st.sampled_from(DEVICES))
    def gateway_press(self, device: str) -> None:
        self.world.intake.record([_reading(device, "sos", id=self._next())])

    @rule(device=st.sampled_from(DEVICES), count=st.integers(1, 5))
    def another_writer(self, device: str, count: int) -> None:
        self.other_intake.record(
            [_reading(device, "heartbeat", id=self._next(), battery=50) for _ in range(count)]
        )

    @rule(batches=st.integers(1, 3))
    def follow(self, batches: int) -> None:
        self.live.follow(batches)

    @rule()
    def another_follower(self) -> None:
        """Another process's projector moves the same views by one batch."""
        Projector(
            self.world.app.recorder, self.world.app.mapper, self.world.views, batch_size=5
        ).catch_up_once()

    @rule()
    def hand_overs_lost(self) -> None:
        self.live._take_handed()
        self.merkle._handed.clear()

    @rule()
    def restart_views(self) -> None:
        self._start_views()

    @rule()
    def merkle_round(self) -> None:
        if self.merkle.append_handed() is None:
            self.merkle.append_new()

    @precondition(lambda self: self.sent > 0)
    @rule()
    def everything_followed_equals_a_rebuild(self) -> None:
        for _ in range(100):
            self.live.follow(1)
            if self.projector.position() == self.projector.head():
                break
        assert self.projector.position() == self.projector.head()
        rebuilt = open_view_store(
            f"sqlite:///{Path(self._tmp.name) / f'rebuild{self.sent}.sqlite3'}"
        )
        try:
            Projector(self.world.app.recorder, self.world.app.mapper, rebuilt).rebuild()
            assert _snapshot(self.world.views) == _snapshot(rebuilt)
        finally:
            rebuilt.close()
        self.merkle.catch_up()
        stored = self.world.app.recorder.select_notifications(start=1, limit=10_000)
        leaves = list(self.merkle.leaves())
        assert [leaf.notification_id for leaf in leaves] == [n.id for n in stored]
        assert [leaf.hash for leaf in leaves] == [
            leaf_hash(notification_leaf(n, n.id)) for n in stored
        ]

    def teardown(self) -> None:
        self.other.close()
        self.world.close()
        self._database.__exit__(None, None, None)
        self._tmp.cleanup()


def test_handed_over_and_read_back_give_the_same_views() -> None:
    run(HandedAndRead, CI, soak=False)


@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT)
def test_handed_over_and_read_back_give_the_same_views_on_postgresql() -> None:
    need_service("PostgreSQL", *pg_admin_parts())

    class OnPostgres(HandedAndRead):
        database = staticmethod(lambda: scratch_database(POSTGRES_ADMIN_URL, "lw_handoff"))

    run(OnPostgres, POSTGRES, soak=False)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["heartbeat", "battery", "location", "checkin", "sos", "fall"]),
    battery=st.none() | st.integers(-5, 120),
    lat=st.none() | st.floats(-100, 100, allow_nan=False),
    lon=st.none() | st.floats(-200, 200, allow_nan=False),
    acc=st.none() | st.floats(0, 1e6, allow_nan=False),
    seq=st.none() | st.integers(-(2**40), 2**40),
    ts=st.none() | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    msg_id=st.none() | st.text("abcdef0123456789-", min_size=1, max_size=20),
)
def test_a_handed_event_is_the_event_its_bytes_decode_to(**fields: Any) -> None:
    """What lets the views skip decoding a plain reading: the object handed over equals the
    one decoding its stored bytes gives, and the views make the same of both."""
    kind = fields.pop("kind")
    msg_id = fields.pop("msg_id")
    with tempfile.TemporaryDirectory() as tmp:
        world = a_trust_with_lone_visitors(f"sqlite:///{Path(tmp) / 'events.sqlite3'}")
        handed: list[Any] = []
        world.intake.on_committed.append(handed.extend)
        try:
            reading = parse_device_message(topic("sos-0001", kind), payload(id=msg_id, **fields))
            if not isinstance(reading, DeviceReading):
                return  # refused at the edge: nothing recorded
            world.intake.record([reading])
            assert handed, "a committed group is handed over"
            for notification, event in handed:
                decoded = world.app.mapper.to_domain_event(notification)
                if event is None:
                    continue  # not vouched for: the follower decodes it
                assert event == decoded
                assert event.__dict__ == decoded.__dict__
                assert project(event, _nothing_stored) == project(decoded, _nothing_stored)
        finally:
            world.close()
