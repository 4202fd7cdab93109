"""How long the invariant machines run: a fixed budget in CI, as long as asked in a soak.

CI (`make test`): a fixed number of examples and steps, about a minute for all machines.
Soak (`make soak SOAK_SECONDS=600`): LW_SOAK_SECONDS set, each machine runs example after
example (random seeds; hypothesis prints the seed and the shrunk steps of a failure)
until its share of the time is up, then prints how many steps and examples it checked.
"""

from __future__ import annotations

import contextlib
import os
import time

import structlog
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from tests.invariants.harness import Counters

CI = settings(
    max_examples=int(os.environ.get("LW_INVARIANT_EXAMPLES", "40")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
SOAK_CHUNK = settings(CI, max_examples=5, stateful_step_count=60)
"""Small, so the soak stops soon after its time is up (it checks between chunks)."""
SOAK_SECONDS = float(os.environ.get("LW_SOAK_SECONDS", "0") or 0)
MACHINES_IN_SOAK = 2
"""The soak's time is shared equally between the machines."""
TIMEOUT = 900 + SOAK_SECONDS
"""Per test: a failure is shrunk to its shortest sequence before it is printed (minutes)."""


POSTGRES = settings(CI, max_examples=3, stateful_step_count=25)
"""A small budget on PostgreSQL: the same machine, to show the store makes no difference
to what holds (each example creates and drops a database, which costs more than SQLite)."""


def run(machine: type[RuleBasedStateMachine], budget: settings = CI, *, soak: bool = True) -> None:
    """Run `machine` on `budget`, or for its share of LW_SOAK_SECONDS when `soak`."""
    Counters.steps = Counters.examples = 0
    Counters.seen = {}
    started = time.monotonic()
    # Logs are kept, not rendered: the console renderer draws every logged traceback
    # with its locals, which would take most of the budget (timer failures in outages).
    quiet = structlog.testing.capture_logs() if not os.environ.get("LW_INVARIANT_LOGS") else None
    with quiet or contextlib.nullcontext():
        if not (SOAK_SECONDS and soak):
            run_state_machine_as_test(machine, settings=budget)
        else:
            until = started + SOAK_SECONDS / MACHINES_IN_SOAK
            while time.monotonic() < until:
                run_state_machine_as_test(machine, settings=SOAK_CHUNK)
    print(
        f"\n{machine.__name__}: {Counters.examples} examples, {Counters.steps} steps checked "
        f"in {time.monotonic() - started:.1f}s; reached: {dict(sorted(Counters.seen.items()))}"
    )
