"""What must always hold on a lone visit's overdue ladder, whatever happens (docs/invariants.md)."""

from __future__ import annotations

import pytest

from tests.invariants.budget import TIMEOUT, run
from tests.invariants.visit_machine import VisitMachine


@pytest.mark.timeout(TIMEOUT)
def test_an_overdue_visit_always_has_its_next_step_due_or_its_ladder_ended() -> None:
    run(VisitMachine)
