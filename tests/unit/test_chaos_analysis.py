"""How the chaos run judges an alert's escalation steps against its policy (benchmarks/chaos_analysis.py).

The run's verdicts are only as honest as this arithmetic: a step due while the store was
down is due when it came back, a reminder the ladder folded into a later round still
reached people, and a step is only expected if there was time for it before someone
took the alert.
"""

from __future__ import annotations

import math

from benchmarks.chaos_analysis import StepCheck, expected_steps
from benchmarks.chaos_plan import Plan
from benchmarks.chaos_store import StoredAlert

POLICY = {"name": "sos", "ack_within": 10, "renotify_every": 10, "tiers": [["a"], ["b"], ["c"]]}
PLAN = Plan.for_mode(quick=False)


def alert(*steps: tuple[str, int, float], acknowledged: float | None = None) -> StoredAlert:
    recorded = [(name, rnd, at, POLICY if name == "tier1" else None) for name, rnd, at in steps]
    return StoredAlert("a1", "sos", raised=100.0, steps=recorded, acknowledged=acknowledged)


def by_name(checks: list[StepCheck]) -> dict[str, StepCheck]:
    return {c.step: c for c in checks}


def test_steps_on_time_are_each_within_a_scheduler_interval() -> None:
    checks = expected_steps(
        alert(
            ("tier1", 0, 100.2),
            ("renotify1", 1, 110.5),
            ("tier2", 1, 110.5),
            ("renotify2", 2, 120.4),
            ("tier3", 2, 120.4),
            acknowledged=125.0,
        ),
        PLAN,
        [],
        until=200.0,
    )
    assert sorted(c.step for c in checks) == ["renotify1", "renotify2", "tier1", "tier2", "tier3"]
    assert all(c.lateness <= 1.0 for c in checks)


def test_a_step_due_during_an_outage_is_due_when_the_store_is_back() -> None:
    checks = by_name(
        expected_steps(
            alert(("tier1", 0, 100.1), ("tier2", 0, 131.5), ("renotify3", 3, 131.5)),
            PLAN,
            [(105.0, 131.0)],
            until=135.0,
        )
    )
    tier2 = checks["tier2"]
    assert tier2.effective_due == 131.0
    assert tier2.lateness == 0.5


def test_reminder_rounds_folded_into_a_later_one_count_as_fired_with_it() -> None:
    checks = by_name(
        expected_steps(
            alert(("tier1", 0, 100.1), ("renotify3", 3, 131.5)),
            PLAN,
            [(105.0, 131.0)],
            until=135.0,
        )
    )
    for name in ("renotify1", "renotify2", "renotify3"):
        assert checks[name].recorded == 131.5


def test_a_step_never_recorded_is_missing() -> None:
    checks = by_name(expected_steps(alert(("tier1", 0, 100.1)), PLAN, [], until=125.0))
    assert math.isinf(checks["tier2"].lateness)
    assert math.isinf(checks["renotify2"].lateness)


def test_no_step_is_expected_once_the_alert_was_taken() -> None:
    checks = expected_steps(alert(("tier1", 0, 100.1), acknowledged=110.5), PLAN, [], until=200.0)
    assert [c.step for c in checks] == ["tier1"]  # tier 2 was due 0.5 s before it was taken


def test_a_step_due_within_an_interval_before_an_outage_is_due_when_the_store_is_back() -> None:
    """The case a quick run on 6 Dec counted as two steps "missing": tier 3 and reminder 2
    were due 0.16 s before PostgreSQL was stopped, and the alert was taken 0.5 s after it
    was back. The service may take one interval for a step, and that interval fell in the
    outage: the steps were due at the recovery, and the alert was taken before they were
    owed (the recovery's own verdict is the scheduler's: one interval)."""
    raised = 55.374
    stored = StoredAlert(
        "a1",
        "sos",
        raised=raised,
        steps=[
            ("tier1", 0, 55.423, {**POLICY, "ack_within": 5, "renotify_every": 5}),
            ("renotify1", 1, 60.764, None),
            ("tier2", 1, 60.764, None),
        ],
        acknowledged=76.266,
    )
    checks = by_name(expected_steps(stored, PLAN, [(65.529, 75.764)], until=200.0))
    assert sorted(checks) == ["renotify1", "tier1", "tier2"]
    # One due 1.5 s before the outage had its interval, and is missing if never recorded.
    early = by_name(expected_steps(stored, PLAN, [(66.9, 75.764)], until=200.0))
    assert early["tier3"].effective_due == raised + 10 and math.isinf(early["tier3"].lateness)
