"""A trust whose console users cover every role, with passwords, served over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher

from service.adapters.directory_file import load_directory
from service.application import visits
from service.application.device_intake import DeviceIntake
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.container import Container
from service.domain.people.access import Principal
from service.domain.people.directory import Role, UserSpec
from service.domain.visits.overdue_ladder import call_home_task
from tests.devices import Devices
from tests.visit_worlds import HAZARDS
from tests.worlds import DIRECTORY

PASSWORD = "correct horse battery"
EXTRA_USERS = (
    UserSpec("head1", "lancaster", Role.HEADTEACHER),
    UserSpec("admin1", None, Role.ADMIN),
    UserSpec("kdsl", "kingsdown", Role.DSL),
)
# Who is who in the authorisation table: (username, role, school).
CALLERS = {
    "staff": "teacher1",
    "operator": "reception1",
    "dsl": "dsl1",
    "headteacher": "head1",
    "admin": "admin1",
    "other school's operator": "kreception",
    "other school's dsl": "kdsl",
}


def with_every_role(app: Lonewatch) -> None:
    """The fixture directory plus a headteacher, an admin and another school's DSL; all
    with the same password (hashed cheaply: these are tests)."""
    directory = load_directory(DIRECTORY)
    app.import_directory(dataclasses.replace(directory, users=(*directory.users, *EXTRA_USERS)))
    with_passwords(app, CALLERS.values())


def with_passwords(app: Lonewatch, usernames: Iterable[str]) -> None:
    """`usernames` sign in with PASSWORD (hashed cheaply: these are tests)."""
    hashed = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    for username in usernames:
        app.set_password(username, hashed)


async def an_sos(app: Lonewatch, projector: Any, message_id: str, device: str = "sos-0001") -> str:
    """`device` presses SOS and a new alert is raised, as a gateway just started receives it.

    Through the production parse and intake (tests/devices.py). Each press gets an intake
    of its own, as after a restart: these tests need an alert per press, and a press joins
    the device's open alert only in the intake that raised it."""
    press = Devices(DeviceIntake(app)).press
    recorded = await asyncio.to_thread(press, device, message_id, lat=51.5412, lon=0.7104, acc=12)
    await asyncio.to_thread(projector.catch_up)
    return str(recorded.alert_id)


def devices(c: Container) -> Devices:
    """The running service's own intake (the gateway's), driven as devices would."""
    return Devices(c.gateway.intake, prefix=c.gateway.prefix)


def _as(username: str, role: Role) -> Principal:
    return Principal(username=username, school="lancaster", role=role)


def a_lone_visit_out(
    c: Container,
    ref: str,
    *,
    back_in: timedelta,
    staff: str = "s-jones",
    device: str = "sos-0001",
    address: str = "12 Mountdale Gardens, Leigh-on-Sea SS9 2AB",
    pupil_ref: str = "UPN-0042",
) -> str:
    """`staff` signs out alone with `device` (heard from just now), due back in `back_in`."""
    heartbeat(c, device)
    visit = a_visit_authorised(
        c, ref, staff, timedelta(minutes=-5), back_in, address=address, pupil_ref=pupil_ref
    )
    visits.depart(c.app, c.views, visit, _as("reception1", Role.OPERATOR))
    c.projector.catch_up()
    return str(visit)


def a_visit_authorised(
    c: Container,
    ref: str,
    staff: str,
    starts_in: timedelta,
    back_in: timedelta,
    *,
    address: str,
    pupil_ref: str,
) -> UUID:
    """A lone visit planned and risk assessed by the DSL, authorised by the headteacher."""
    now = c.clock.now()
    plan = visits.VisitPlan(
        ref=ref,
        school="lancaster",
        staff=[staff],
        pupil_ref=pupil_ref,
        address=address,
        purpose="safe_and_well",
        planned_start=now + starts_in,
        expected_leave=now + back_in - timedelta(minutes=15),
        expected_return=now + back_in,
    )
    visit = visits.plan_visit(c.app, plan, _as("dsl1", Role.DSL))
    visits.assess_risk(c.app, visit.id, _as("dsl1", Role.DSL), HAZARDS)
    visits.authorise(c.app, visit.id, _as("head1", Role.HEADTEACHER))
    c.projector.catch_up()
    return visit.id


def heartbeat(c: Container, device: str, battery: int = 76) -> None:
    devices(c).heartbeat(device, battery)
    c.projector.catch_up()


SETTLE_WAIT_SECONDS = 10.0


def due_at_now(c: Container) -> list[str]:
    """The pending timers due at the (fake) clock's now."""
    now = c.clock.now()
    return [
        timer["id"]
        for timer in c.views.find("timer", states=["pending"], limit=100_000)
        if datetime.fromisoformat(timer["due_at"]) <= now
    ]


def settle(c: Container) -> None:
    """Fire what is due at the fake clock's now, and apply what that recorded, until no
    timer is due at now.

    The running service's own scheduler loop fires timers too: while it has a step in
    hand our tick passes that timer over (it stays pending until its event is in the
    views), so stopping when our tick fired nothing left the step unrecorded when the test
    looked, or when it advanced the clock (seen under load: 'the ladder did not reach
    reception'). So this waits, round after round, until that step is in the views."""
    deadline = time.monotonic() + SETTLE_WAIT_SECONDS
    while True:
        for _ in range(10):
            c.projector.catch_up()
            if not c.scheduler.tick():
                break
            c.scheduler.forget_fired()
        c.projector.catch_up()
        due = due_at_now(c)
        if not due:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still due at {c.clock.now()} after {SETTLE_WAIT_SECONDS}s: {due}"
            )
        time.sleep(0.02)


def a_reception_task(c: Container, clock: FakeClock, ref: str = "overdue-1") -> str:
    """A lone visit overdue long enough (the school's ladder: step 2 at ten minutes) that
    reception has been asked to ring the pupil's home; returns that task's id."""
    visit = a_lone_visit_out(c, ref, back_in=timedelta(minutes=30))
    clock.advance(timedelta(minutes=40))  # expected return + 10 minutes' grace
    settle(c)
    clock.advance(timedelta(minutes=10))
    settle(c)
    task = call_home_task(UUID(visit), 1)
    assert c.views.get("task", task) is not None, "the ladder did not reach reception"
    return task
