"""What must always hold on a lone visit's overdue ladder, whatever happens (docs/invariants.md)."""

from __future__ import annotations

import pytest

from tests.invariants.budget import run
from tests.invariants.visit_machine import VisitMachine


# A failure is shrunk to its shortest sequence before it is printed; that takes minutes.
@pytest.mark.timeout(900)
def test_an_overdue_visit_always_has_its_next_step_due_or_its_ladder_ended() -> None:
    run(VisitMachine)
