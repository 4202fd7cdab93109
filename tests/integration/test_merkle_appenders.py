"""Two appenders on one PostgreSQL store (two `lonewatch serve` processes): where the leaves'
COPY meets leaves the other wrote first, nothing of the page goes in, the appender takes the
other's leaves and appends the rest; the log holds one leaf per event, in order, either way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_leaf_data import notification_leaf
from service.adapters.merkle_log import MerkleLog
from service.adapters.merkle_tree import leaf_hash
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts


@pytest.fixture
def recorder() -> Iterator[Any]:
    need_service("PostgreSQL", *pg_admin_parts())
    with scratch_database(POSTGRES_ADMIN_URL, "lw_merkle_appenders") as url:
        app = Lonewatch(eventsourcing_env(url), FakeClock())
        try:
            yield app.recorder
        finally:
            app.close()


def _store(recorder: Any, count: int) -> list[Any]:
    events = [StoredEvent(uuid.uuid4(), 1, "alert:Raised", bytes([n])) for n in range(count)]
    recorder.insert_events(events)
    head = recorder.max_notification_id()
    return list(recorder.select_notifications(start=head - count + 1, limit=count))


def _one_leaf_per_event_in_order(log: MerkleLog, recorder: Any) -> None:
    notifications = recorder.select_notifications(start=1, limit=10_000)
    leaves = list(log.leaves())
    assert [leaf.leaf_index for leaf in leaves] == list(range(len(notifications)))
    assert [leaf.notification_id for leaf in leaves] == [n.id for n in notifications]
    assert [leaf.hash for leaf in leaves] == [
        leaf_hash(notification_leaf(n, n.id)) for n in notifications
    ]


def test_a_handed_page_the_other_appender_wrote_part_of_goes_in_on_the_next_round(
    recorder: Any,
) -> None:
    first, second = MerkleLog(recorder), MerkleLog(recorder)
    handed = _store(recorder, 6)
    first.append_new(limit=4)  # the other process got to the first four
    second.hand_over(handed)
    assert second.append_handed() is None  # its page met them: nothing of it went in
    assert second.size() == (4, handed[3].id)
    assert second.append_new().leaves == 2  # the rest, after taking the other's leaves
    _store(recorder, 3)
    assert first.append_new().leaves == 3
    assert second.catch_up() == first.catch_up() == 9
    _one_leaf_per_event_in_order(first, recorder)


def test_appending_page_by_page_keeps_one_leaf_per_event(recorder: Any) -> None:
    log = MerkleLog(recorder)
    handed = _store(recorder, 5)
    log.hand_over(handed)
    appended = log.append_handed()
    assert appended is not None and appended.leaves == 5
    _store(recorder, 7)
    assert log.append_new(limit=4).leaves == 4
    assert log.catch_up() == 12
    _one_leaf_per_event_in_order(log, recorder)
