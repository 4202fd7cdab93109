"""What must always hold on the alarm path, whatever happens (docs/invariants.md)."""

from __future__ import annotations

import pytest

from tests.invariants.alarm_machine import AlarmMachine
from tests.invariants.budget import run


# A failure is shrunk to its shortest sequence before it is printed; that takes minutes.
@pytest.mark.timeout(900)
def test_every_alarm_reaches_a_person_whatever_fails() -> None:
    run(AlarmMachine)
