"""What every invariant machine over the real service does to it, whatever else it tests:
time passes, the process restarts, the store goes down and comes back. In one place, so a
machine states only its own rules, what it checks after each step, and how far its clock
jumps (`time_passes_in`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from tests.invariants.harness import Service


class ServiceMachine(RuleBasedStateMachine):
    """A machine over one `Service` (set `svc` in `__init__`); `after_step` settles it and
    notes what the machine's invariants need."""

    svc: Service

    def teardown(self) -> None:
        self.svc.close()

    @property
    def app(self) -> Any:
        return self.svc.c.app

    def after_step(self) -> None:
        raise NotImplementedError

    @precondition(lambda self: self.svc.up)
    @rule()
    def restart(self) -> None:
        self.svc.restart()
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule()
    def store_goes_down(self) -> None:
        self.svc.outage.down = True
        self.after_step()

    @precondition(lambda self: not self.svc.up)
    @rule()
    def store_comes_back(self) -> None:
        self.svc.outage.down = False
        self.svc.redeliver_held()
        self.after_step()


def time_passes_in(jumps: st.SearchStrategy[int]) -> Callable[[ServiceMachine, int], None]:
    """The rule that moves the clock on by one of `jumps` seconds: each machine jumps by what
    its deadlines are made of (seconds for alarms, minutes for visits)."""

    @rule(seconds=jumps)
    def time_passes(self: ServiceMachine, seconds: int) -> None:
        self.svc.clock.advance(timedelta(seconds=seconds))
        self.after_step()

    return time_passes
