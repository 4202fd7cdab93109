"""'Duplicates recorded once.' (the brief; INTERFACES.md section 2: a device repeats a message
with the same `id` until it is acknowledged)

Groups of device messages whose ids repeat within a group, across groups and after the
gateway restarts (a fresh application and intake over the same store), in any mix of plain
readings, alarms and texts: every message is recorded exactly once; every repeat is
reported DUPLICATE and names the original's id (a message of another kind under a used
id is a new one: recorded without the id, flagged id_reused); the live views count each message once;
and the Merkle log holds one leaf per stored event, its leaf indexes without a gap, though
a repeat left out by the insert may leave a gap in the store's positions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from projections.projector import Projector
from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_leaf_data import notification_leaf
from service.adapters.merkle_log import MerkleLog
from service.adapters.merkle_tree import leaf_hash
from service.application.device_intake import DeviceIntake, Outcome
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.domain import ids
from service.workers.live import LiveViews
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts
from tests.invariants.budget import CI, POSTGRES, TIMEOUT, run
from tests.invariants.harness import Counters, device_reading, sqlite_store
from tests.worlds import a_trust_with_lone_visitors

DEVICES = ("sos-0001", "sos-0002")
KINDS = ("heartbeat", "heartbeat", "battery", "location", "checkin", "sos", "message")
WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

message = st.tuples(
    st.sampled_from(DEVICES),
    st.sampled_from(KINDS),
    st.none() | st.integers(0, 7).map(lambda n: f"m{n}"),  # few ids: repeats are common
)


class RepeatedMessages(RuleBasedStateMachine):
    database: Callable[[], AbstractContextManager[str]] = staticmethod(sqlite_store)

    def __init__(self) -> None:
        super().__init__()
        self._database = self.database()
        self.url = self._database.__enter__()
        self.clock = FakeClock(WHEN)
        self.world = a_trust_with_lone_visitors(self.url, self.clock)
        self.merkle = MerkleLog(self.world.app.recorder)
        self.live = LiveViews(
            Projector(self.world.app.recorder, self.world.app.mapper, self.world.views)
        )
        self.gateway: Lonewatch | None = None
        self.intake = self.world.intake
        self._follow(self.intake)
        self.originals: dict[tuple[str, str], tuple[str, UUID]] = {}
        """(device, message id) -> the kind and id its first delivery was recorded under; a
        later message of another kind with that id is a new one (its id reused)."""
        self.restarts = 0
        self.first_seen: dict[tuple[str, str], tuple[int, int]] = {}
        """(device, message id) -> (restarts, group) when first recorded: what a repeat is."""
        self.groups = 0
        Counters.examples += 1
        self.recorded: Counter[tuple[str, str]] = Counter()
        """(device, kind) -> messages recorded."""

    def _follow(self, intake: DeviceIntake) -> None:
        intake.on_committed.append(self.live.hand_over)
        intake.on_committed.append(lambda done: self.merkle.hand_over([n for n, _ in done]))

    @rule(group=st.lists(message, min_size=1, max_size=12))
    def a_group(self, group: list[tuple[str, str, str | None]]) -> None:
        self.clock.advance(timedelta(seconds=1))
        self.groups += 1
        Counters.steps += 1
        results = self.intake.record([device_reading(*m) for m in group])
        in_group: dict[tuple[str, str, str], UUID] = {}
        """(device, message id, kind) -> the id it was recorded under in this group."""
        for (device, kind, msg_id), result in zip(group, results, strict=True):
            if msg_id is None:
                assert result.outcome is Outcome.RECORDED
                self.recorded[(device, kind)] += 1
                continue
            original = self.originals.get((device, msg_id))
            earlier = in_group.get((device, msg_id, kind))
            # A repeat: of a reading of its kind earlier in this group, or of the same kind
            # as what the id was first recorded for.
            named = earlier or (original[1] if original and original[0] == kind else None)
            if named is not None:
                assert result.outcome is Outcome.DUPLICATE, (device, kind, msg_id)
                assert result.message_id == named, "a repeat names the original"
                restarts, _ = self.first_seen[(device, msg_id)]
                Counters.saw(
                    f"{kind} repeated "
                    + (
                        "in its group"
                        if earlier is not None
                        else "after a restart"
                        if restarts < self.restarts
                        else "in a later group"
                    )
                )
                continue
            assert result.outcome is Outcome.RECORDED, (device, kind, msg_id)
            self.recorded[(device, kind)] += 1
            assert result.message_id is not None
            in_group[(device, msg_id, kind)] = result.message_id
            if original is None:
                assert result.message_id == ids.device_message_id(device, msg_id)
                self.originals[(device, msg_id)] = (kind, result.message_id)
                self.first_seen[(device, msg_id)] = (self.restarts, self.groups)
            else:
                # Another kind under a used id: a new message, recorded without the id.
                assert "id_reused" in result.flags, (device, kind, msg_id)
                assert result.message_id != original[1]
                Counters.saw(f"{kind} reusing a {original[0]}'s id")

    @rule()
    def the_gateway_restarts(self) -> None:
        """A fresh application and intake over the same store: nothing remembered."""
        if self.gateway is not None:
            self.gateway.close()
        self.gateway = Lonewatch(eventsourcing_env(self.url), self.clock)
        self.intake = DeviceIntake(self.gateway)
        self._follow(self.intake)
        self.restarts += 1

    @rule()
    def views_follow(self) -> None:
        self.live.follow(1)

    @rule()
    def merkle_round(self) -> None:
        if self.merkle.append_handed() is None:
            self.merkle.append_new()

    @precondition(lambda self: bool(self.recorded))
    @rule()
    def each_message_is_recorded_once(self) -> None:
        stored = self.world.app.recorder.select_notifications(start=1, limit=100_000)
        messages = Counter(
            n.originator_id for n in stored if n.topic.endswith("DeviceMessage.Received")
        )
        assert sum(messages.values()) == sum(self.recorded.values())
        assert all(count == 1 for count in messages.values())
        assert {m for _, m in self.originals.values()} <= set(messages)
        # The views count each message once, though repeats were never handed to them.
        for _ in range(100):
            self.live.follow()
            if self.live.projector.position() == self.live.projector.head():
                break
        for device in DEVICES:
            counts = {k: n for (d, k), n in self.recorded.items() if d == device and n}
            doc = self.world.views.get("device", device)
            assert (doc["counts"] if doc else {}) == counts
        # One leaf per stored event, in order, its indexes without a gap.
        self.merkle.catch_up()
        Counters.saw("checked")
        if len(stored) and stored[-1].id != len(stored):
            Counters.saw("checked with a gap in the positions")
        leaves = list(self.merkle.leaves())
        assert [leaf.leaf_index for leaf in leaves] == list(range(len(stored)))
        assert [leaf.notification_id for leaf in leaves] == [n.id for n in stored]
        assert [leaf.hash for leaf in leaves] == [
            leaf_hash(notification_leaf(n, n.id)) for n in stored
        ]

    def teardown(self) -> None:
        if self.gateway is not None:
            self.gateway.close()
        self.world.close()
        self._database.__exit__(None, None, None)


def test_every_message_is_recorded_once_and_every_repeat_named() -> None:
    run(RepeatedMessages, CI, soak=False)


@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT)
def test_every_message_is_recorded_once_and_every_repeat_named_on_postgresql() -> None:
    need_service("PostgreSQL", *pg_admin_parts())

    class OnPostgres(RepeatedMessages):
        database = staticmethod(lambda: scratch_database(POSTGRES_ADMIN_URL, "lw_repeats"))

    run(OnPostgres, settings(POSTGRES, max_examples=10), soak=False)
