"""'Duplicates recorded once' is about repeats of one message; a device may still reuse an
`id` for another (a counter restarted at a reboot, one counter per kind). INTERFACES.md
section 2: a device repeats an alarm "until it receives `alert_received`"; so an answer
must never name an alert that was not raised.

Groups of device messages of mixed kinds whose ids come from a small pool (so ids collide
across kinds, within a group, across groups and after a restart), with alerts resolved in
between, on SQLite and PostgreSQL:
- every alarm is answered with an alert of its own kind and device that exists in the store
  (raised by it, joined while open, or the one its original named); nothing else names one;
- a message never repeats a stored one of another kind (it is recorded, flagged `id_reused`);
- a true repeat (same device, id and kind; for an alarm, its original's alert still open,
  or resolved and no different `ts`) is reported DUPLICATE, names its original and its alert,
  and is not recorded again, within a group, across groups and after a restart;
- the store holds exactly the messages reported RECORDED, each once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from service.adapters.event_store import eventsourcing_env
from service.application.device_intake import DeviceIntake, Intaken, Outcome
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.domain import ids
from service.domain.alerts.alert import Alert
from service.domain.alerts.alert import Outcome as AlertOutcome
from service.domain.devices.messages import ALARM_KINDS
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts
from tests.invariants.budget import CI, POSTGRES, TIMEOUT, run
from tests.invariants.harness import Counters, device_reading, sqlite_store
from tests.worlds import a_trust_with_lone_visitors

DEVICES = ("sos-0001", "sos-0002")
KINDS = ("heartbeat", "battery", "checkin", "sos", "sos", "fall", "message")
WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
STAMPS = (None, "2026-12-06T08:00:00Z", "2026-12-06T08:30:00Z")
"""A device's `ts`: absent, or one of two, so a reused id comes with the same `ts` or not."""

message = st.tuples(
    st.sampled_from(DEVICES),
    st.sampled_from(KINDS),
    st.none() | st.integers(0, 3).map(lambda n: f"m{n}"),  # a small pool: ids collide
    st.sampled_from(STAMPS),
)
Sent = tuple[str, str, str | None, str | None]


@dataclass(frozen=True)
class Original:
    """The message first stored under a (device, id): what a true repeat repeats."""

    sent: Sent
    result: Intaken


class ReusedIds(RuleBasedStateMachine):
    database: Callable[[], AbstractContextManager[str]] = staticmethod(sqlite_store)

    def __init__(self) -> None:
        super().__init__()
        self._database = self.database()
        self.url = self._database.__enter__()
        self.clock = FakeClock(WHEN)
        self.world = a_trust_with_lone_visitors(self.url, self.clock)
        self.app: Lonewatch = self.world.app
        self.restarted: Lonewatch | None = None
        self.intake = self.world.intake
        self.originals: dict[tuple[str, str], Original] = {}
        self.recorded: set[UUID] = set()
        self.alerts: list[UUID] = []
        """Alerts named so far, in the order first named (their ids may be random)."""
        Counters.examples += 1

    def _alert(self, alert_id: UUID | None) -> Alert | None:
        return None if alert_id is None else self.app.load_optional(alert_id, Alert)

    @rule(group=st.lists(message, min_size=1, max_size=8))
    def a_group(self, group: list[Sent]) -> None:
        self.clock.advance(timedelta(seconds=1))
        Counters.steps += 1
        # What a true repeat must find: the original's alert open before the group.
        open_before = {
            key: (alert := self._alert(o.result.alert_id)) is not None and alert.is_open
            for key, o in self.originals.items()
        }
        results = self.intake.record([device_reading(*sent) for sent in group])
        in_group: list[tuple[Sent, Intaken]] = []
        for sent, result in zip(group, results, strict=True):
            self._check(sent, result, in_group, open_before)
            in_group.append((sent, result))

    def _check(
        self,
        sent: Sent,
        result: Intaken,
        in_group: list[tuple[Sent, Intaken]],
        open_before: dict[tuple[str, str], bool],
    ) -> None:
        device, kind, msg_id, ts = sent
        if kind in ALARM_KINDS:
            alert = self._alert(result.alert_id)
            assert alert is not None, f"{sent} was answered with an alert that does not exist"
            assert (alert.kind.value, alert.device) == (kind, device), (sent, alert.kind)
            assert result.alert_id is not None
            if result.alert_id not in self.alerts:
                self.alerts.append(result.alert_id)
        else:
            assert result.alert_id is None, f"{sent} named an alert"
        if result.outcome is Outcome.RECORDED:
            assert result.message_id not in self.recorded, f"{sent} recorded twice"
            assert result.message_id is not None
            self.recorded.add(result.message_id)
        if msg_id is None:
            assert result.outcome is Outcome.RECORDED
            return
        original = self.originals.get((device, msg_id))
        earlier = next((r for s, r in in_group if s[:3] == sent[:3]), None)
        if earlier is not None:  # the same message earlier in this group
            Counters.saw(f"{kind} repeated in its group")
            assert result.outcome is Outcome.DUPLICATE, sent
            assert (result.message_id, result.alert_id) == (earlier.message_id, earlier.alert_id)
        elif original is None:
            if any(s[:3:2] == sent[:3:2] for s, _ in in_group):
                Counters.saw(f"{kind} reusing an id in its group")
                assert result.outcome is Outcome.RECORDED and "id_reused" in result.flags, sent
            else:
                assert result.outcome is Outcome.RECORDED, sent
                assert result.message_id == ids.device_message_id(device, msg_id)
                self.originals[(device, msg_id)] = Original(sent, result)
        elif original.sent[1] != kind:
            Counters.saw(f"{kind} reusing a stored {original.sent[1]}'s id")
            assert result.outcome is Outcome.RECORDED and "id_reused" in result.flags, sent
            assert result.message_id != ids.device_message_id(device, msg_id)
        elif kind in ALARM_KINDS and not open_before.get((device, msg_id), False):
            # Its original's alert was resolved: only a different `ts` on both shows it is
            # another press; without one, it is a repeat ("the same device and id are
            # recorded once", INTERFACES.md section 2).
            if ts is None or original.sent[3] is None or ts == original.sent[3]:
                Counters.saw(f"{kind} repeated after its alert was resolved")
                assert result.outcome is Outcome.DUPLICATE, sent
                assert result.alert_id == original.result.alert_id
            else:
                Counters.saw(f"{kind} reusing an id after its alert was resolved")
                assert result.outcome is Outcome.RECORDED and "id_reused" in result.flags, sent
                assert result.alert_id != original.result.alert_id
        else:
            Counters.saw(f"{kind} repeated" + (" with another ts" if sent != original.sent else ""))
            assert result.outcome is Outcome.DUPLICATE, sent
            assert result.message_id == original.result.message_id
            assert result.alert_id == original.result.alert_id

    @precondition(lambda self: bool(self.alerts))
    @rule(data=st.data())
    def a_person_resolves_an_alert(self, data: st.DataObject) -> None:
        alert_id = self.alerts[data.draw(st.integers(0, len(self.alerts) - 1))]
        alert = self._alert(alert_id)
        if alert is not None and alert.is_open:
            self.clock.advance(timedelta(minutes=1))
            self.app.resolve_alert(alert_id, outcome=AlertOutcome.SAFE, note="fine", by="dsl1")
            Counters.saw("an alert resolved")

    @rule()
    def the_gateway_restarts(self) -> None:
        """A fresh application and intake over the same store: nothing remembered."""
        if self.restarted is not None:
            self.restarted.close()
        self.restarted = self.app = Lonewatch(eventsourcing_env(self.url), self.clock)
        self.intake = DeviceIntake(self.app)
        Counters.saw("restart")

    @precondition(lambda self: bool(self.recorded))
    @rule()
    def the_store_holds_each_recorded_message_once(self) -> None:
        stored = self.app.recorder.select_notifications(start=1, limit=100_000)
        messages = [n.originator_id for n in stored if n.topic.endswith("DeviceMessage.Received")]
        assert sorted(messages) == sorted(self.recorded)

    def teardown(self) -> None:
        if self.restarted is not None:
            self.restarted.close()
        self.world.close()
        self._database.__exit__(None, None, None)


def test_an_alarm_always_names_an_alert_that_exists_and_repeats_are_recorded_once() -> None:
    run(ReusedIds, CI, soak=False)


@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT)
def test_an_alarm_always_names_an_alert_that_exists_on_postgresql() -> None:
    need_service("PostgreSQL", *pg_admin_parts())

    class OnPostgres(ReusedIds):
        database = staticmethod(lambda: scratch_database(POSTGRES_ADMIN_URL, "lw_reused"))

    run(OnPostgres, settings(POSTGRES, max_examples=10), soak=False)
