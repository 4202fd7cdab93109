"""A school day of home visits in simulated time: the application, its views, the
scheduler with the visit timers, a fake clock, and helpers that read like the policy."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from service.adapters.directory_file import load_directory
from service.application import visits
from service.application.visit_deadlines import register_timer_actions
from service.clock import FakeClock
from service.domain.ids import user_id
from service.domain.people.access import Principal
from service.domain.people.directory import Role, User
from service.domain.visits.visit import Visit
from service.records.timeline import timeline
from service.workers.scheduler import Scheduler
from tests.worlds import World

VISITS_DIRECTORY = Path(__file__).parent / "fixtures" / "visits-directory.yaml"
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Europe/London is on UTC in November

HAZARDS: list[dict[str, Any]] = [
    {
        "hazard": hazard,
        "likelihood": "remote",
        "severity": "major",
        "risk": "low",
        "controls": ["Inform reception and sign out", "Take mobile phone"],
    }
    for hazard in ("aggressive_person", "animals", "driving", "public_areas", "illness_or_injury")
]


def at(hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(hour=hour, minute=minute)


class VisitWorld(World):
    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, FakeClock(MONDAY))
        self.clock: FakeClock
        self.app.import_directory(load_directory(VISITS_DIRECTORY))
        self.scheduler = Scheduler(self.views, self.clock)
        register_timer_actions(self.scheduler, self.app)
        self.heartbeating: dict[str, int | None] = {}
        self._sids = itertools.count(1)
        self.projector.catch_up()

    def who(self, username: str) -> Principal:
        user = self.app.load(user_id(username), User, "user")
        return Principal(username=user.username, school=user.school, role=Role(user.role))

    # -- devices and texts ----------------------------------------------------------

    def heartbeat(
        self,
        device: str,
        battery: int | None = 80,
        kind: str = "heartbeat",
        *,
        catch_up: bool = True,
    ) -> None:
        self.devices.heartbeat(device, battery, kind)
        if catch_up:
            self.projector.catch_up()

    def text(self, sender: str, body: str) -> str | None:
        reply = self.app.receive_sms(sender=sender, body=body, message_sid=f"SM{next(self._sids)}")
        self.projector.catch_up()
        return reply

    # -- time -------------------------------------------------------------------

    def settle(self) -> list[str]:
        """Fire what is due and apply what that recorded, until nothing more is due."""
        fired: list[str] = []
        for _ in range(10):
            self.projector.catch_up()
            now_fired = self.scheduler.tick()
            if not now_fired:
                break
            fired.extend(now_fired)
            self.scheduler.forget_fired()
        return fired

    def run_until(self, instant: datetime, step: timedelta = timedelta(minutes=2)) -> list[str]:
        """Let time pass in steps, stopping at every pending deadline so each is noticed
        exactly when due; devices in `heartbeating` send at every step."""
        fired: list[str] = []
        while self.clock.now() < instant:
            now = self.clock.now()
            upcoming = [
                due
                for t in self.views.find("timer", states=["pending"], limit=100_000)
                if (due := datetime.fromisoformat(t["due_at"])) > now
            ]
            self.clock.set(min(instant, now + step, *upcoming))
            for device, battery in self.heartbeating.items():
                self.heartbeat(device, battery, catch_up=False)
            fired.extend(self.settle())
        return fired

    # -- visits -------------------------------------------------------------------

    def plan(self, ref: str, staff: list[str], start: datetime, **changes: Any) -> Visit:
        by = changes.pop("by", "dsl1")
        values: dict[str, Any] = {
            "ref": ref,
            "school": "lancaster",
            "staff": staff,
            "pupil_ref": "UPN-0042",
            "address": "12 Mountdale Gardens, Leigh-on-Sea",
            "purpose": "safe_and_well",
            "planned_start": start,
            "expected_leave": start + timedelta(minutes=45),
            "expected_return": start + timedelta(hours=1),
        }
        values.update(changes)
        plan = visits.VisitPlan(**values)
        return visits.plan_visit(self.app, plan, self.who(by))

    def authorised(self, ref: str, staff: list[str], start: datetime, **changes: Any) -> UUID:
        visit = self.plan(ref, staff, start, **changes)
        visits.assess_risk(self.app, visit.id, self.who("dsl1"), HAZARDS)
        visits.authorise(self.app, visit.id, self.who("head1"))
        self.projector.catch_up()
        return visit.id

    def depart(self, visit_id: UUID, by: str = "s-jones") -> Visit:
        visit = visits.depart(self.app, self.views, visit_id, self.who(by))
        self.projector.catch_up()
        return visit

    def board(self, visit_id: UUID) -> dict[str, Any]:
        self.projector.catch_up()
        doc = self.views.get("visit", str(visit_id))
        assert doc is not None
        return doc

    def notifications(self, **where: Any) -> list[dict[str, Any]]:
        self.projector.catch_up()
        docs = self.views.find("notification", limit=10_000)
        found = [d for d in docs if all(d.get(k) == v for k, v in where.items())]
        return sorted(found, key=lambda d: d["requested_at"])

    def timeline(self, visit_id: UUID) -> list[dict[str, Any]]:
        self.projector.catch_up()
        return timeline(self.app, self.views, f"visit:{visit_id}")
