"""What must always hold on the alarm path, whatever happens (docs/invariants.md)."""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest

from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts
from tests.invariants.alarm_machine import AlarmMachine
from tests.invariants.budget import POSTGRES, TIMEOUT, run


@pytest.mark.timeout(TIMEOUT)
def test_every_alarm_reaches_a_person_whatever_fails() -> None:
    run(AlarmMachine)


@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT)
def test_every_alarm_reaches_a_person_on_postgresql_too() -> None:
    need_service("PostgreSQL", *pg_admin_parts())

    def own_database() -> AbstractContextManager[str]:
        return scratch_database(POSTGRES_ADMIN_URL, "lw_invariants")

    class OnPostgres(AlarmMachine):
        database = own_database

    run(OnPostgres, POSTGRES, soak=False)
