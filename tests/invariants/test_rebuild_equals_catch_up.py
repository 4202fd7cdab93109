"""A rebuild of every view equals the live catch-up, for any history the service can make.

The alarm and visit machines (tests/invariants) drive the real service through presses,
heartbeats, texts, escalations, acknowledgements, visits, restarts and outages; at any
step hypothesis may rebuild the views from the store, with batch sizes, catch-up batch
boundaries and a cache size it draws, and compare them byte for byte with a catch-up into
a fresh store and with the views the running service built live.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.invariants.alarm_machine import DEVICES, AlarmMachine
from tests.invariants.budget import CI, TIMEOUT, run
from tests.invariants.rebuild_check import check_rebuild_equals_catch_up
from tests.invariants.visit_machine import DEVICE, VisitMachine

BUDGET = settings(CI, max_examples=12, stateful_step_count=30)
BATCHES = st.integers(min_value=1, max_value=80)
SIZES = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4)
CACHES = st.sampled_from([1, 4, 200_000])
"""A tiny cache makes the rebuild read documents back from the store mid-pipeline."""
HEARTBEATS = st.fixed_dictionaries(
    {"battery": st.integers(min_value=0, max_value=100)},
    optional={"lat": st.just(51.54), "lon": st.just(0.71), "acc": st.just(12.0)},
)


class AlarmsRebuilt(AlarmMachine):
    @rule(device=st.sampled_from(DEVICES), body=HEARTBEATS)
    def heartbeat(self, device: str, body: dict[str, object]) -> None:
        self.svc.send(device, "heartbeat", {**body, "id": f"hb-{next(self.msg_ids)}"})
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(batch=BATCHES, sizes=SIZES, cache=CACHES)
    def the_views_are_rebuilt(self, batch: int, sizes: list[int], cache: int) -> None:
        check_rebuild_equals_catch_up(self.app, self.svc.c.views, batch, sizes, cache)


class VisitsRebuilt(VisitMachine):
    @rule(body=HEARTBEATS, kind=st.sampled_from(["heartbeat", "heartbeat", "checkin"]))
    def device_sends(self, body: dict[str, object], kind: str) -> None:
        self.svc.send(DEVICE, kind, {**body, "id": f"hb-{next(self.ids)}"})
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(batch=BATCHES, sizes=SIZES, cache=CACHES)
    def the_views_are_rebuilt(self, batch: int, sizes: list[int], cache: int) -> None:
        check_rebuild_equals_catch_up(self.app, self.svc.c.views, batch, sizes, cache)


@pytest.mark.timeout(TIMEOUT)
def test_alarm_histories_rebuild_to_the_live_views() -> None:
    run(AlarmsRebuilt, BUDGET, soak=False)


@pytest.mark.timeout(TIMEOUT)
def test_visit_histories_rebuild_to_the_live_views() -> None:
    run(VisitsRebuilt, BUDGET, soak=False)
