"""The demo directory's trust (deploy/demo-directory.yaml: Lancaster like the SEN Trust
Southend policy, Kingsdown like Cottenham Village College's) served to a browser on a fake
clock, and Sam's lone visit planned there: the set-up the visit policy pages' tests share,
each choosing its own day and who may sign in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from service.adapters.directory_file import load_directory
from service.application import visits
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from tests.console_world import with_passwords
from tests.e2e.browsers import served
from tests.harness import service_in_process
from tests.trust_api import DEMO_DIRECTORY
from tests.visit_worlds import HAZARDS

DemoConsole = tuple[str, Container, FakeClock]
"""The console's base URL, the service and its clock."""
DSL = Principal("dsl1", "lancaster", Role.DSL)


@contextlib.asynccontextmanager
async def the_demo_trust(
    tmp_path: Path, clock: FakeClock, users: Iterable[str]
) -> AsyncIterator[DemoConsole]:
    """The whole service on `clock` (no MQTT), `users` able to sign in, on a free port."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}", poll_interval=0.2)
    async with service_in_process(settings, clock=clock, with_mqtt=False) as container:
        container.app.import_directory(load_directory(DEMO_DIRECTORY))
        with_passwords(container.app, users)
        async with served(container) as base:
            yield base, container, clock


def sams_lone_visit(c: Container, ref: str, starts_in: timedelta) -> UUID:
    """Sam's Lancaster visit `starts_in` from now, planned and risk assessed by the DSL, not
    authorised (the views not caught up: a caller may do more first)."""
    start = c.clock.now() + starts_in
    plan = visits.VisitPlan(
        ref=ref,
        school="lancaster",
        staff=["s-jones"],
        pupil_ref="UPN-0042",
        address="12 Mountdale Gardens, Leigh-on-Sea SS9 2AB",
        purpose="safe_and_well",
        planned_start=start,
        expected_leave=start + timedelta(minutes=45),
        expected_return=start + timedelta(hours=1),
    )
    visit = visits.plan_visit(c.app, plan, DSL)
    visits.assess_risk(c.app, visit.id, DSL, HAZARDS)
    return visit.id
