"""What every invariant machine over the real service does to it, whatever else it tests:
time passes, the process restarts, the store goes down and comes back, a number answers
(or does not). In one place, so a machine states only its own rules, what it checks after
each step, how far its clock jumps (`time_passes_in`) and which numbers answer how
(`number_answers_in`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from tests.invariants.harness import Counters, Service


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


def number_answers_in(
    phones: Sequence[str], hows: Sequence[str], tries: st.SearchStrategy[int]
) -> Callable[[ServiceMachine, str, str, str, int], None]:
    """The rule that scripts how one of `phones` answers its next sends, by text or call:
    it `works`, `fails_a_while` (`tries` sends), `refuses` for good, or `dies` (the provider
    takes the send and the process dies before recording that: it restarts, finds the try
    unconfirmed, never resends it). A machine weights `hows` by repeating one."""

    @rule(
        to=st.sampled_from(phones),
        channel=st.sampled_from(("sms", "voice")),
        how=st.sampled_from(hows),
        tries=tries,
    )
    def number_answers(self: ServiceMachine, to: str, channel: str, how: str, tries: int) -> None:
        self.svc.notifier.script(
            to,
            channel,
            failing=tries if how == "fails_a_while" else 0,
            refused=how == "refuses",
            dies=how == "dies",
        )
        Counters.steps += 1

    return number_answers
