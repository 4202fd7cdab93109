"""Home-visit deadlines as scheduler actions: each records that a deadline passed.

The visit projection (projections/visit_timers.py) writes the timers; these actions are
what the scheduler calls when one is due. Each is idempotent: the Visit refuses a
deadline already noticed, so a timer seen twice records once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from projections.timers import TimerAction, TimerRegistry
from service.application.school_rules import school_of
from service.application.visitor_texts import app_message
from service.application.visits import change, move
from service.domain import ids
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import PlannedNotification, request_notification
from service.domain.errors import DomainError, NotFound
from service.domain.people.directory import School, Staff
from service.domain.visits.overdue import VisitFacts, ladder_step, leave_prompt
from service.domain.visits.visit import Visit

if TYPE_CHECKING:
    from service.application.lonewatch import DeviceInfo, Lonewatch

Registry = TypeVar("Registry", bound=TimerRegistry)


def _facts(app: Lonewatch, visit: Visit) -> tuple[VisitFacts, School]:
    school = school_of(app, visit.school)
    lead = app.load_optional(ids.staff_id(visit.lead), Staff)
    return (
        VisitFacts(
            code=visit.id.hex[:6].upper(),
            visitor=lead.name if lead else visit.lead,
            visitor_key=visit.lead,
            mobile=visit.mobile,
            school_name=school.name,
            timezone=school.timezone,
            pupil_ref=visit.pupil_ref,
            expected_return=visit.expected_return,
        ),
        school,
    )


def _notifications(
    subject: UUID, school: str, plans: list[PlannedNotification], now: datetime, episode: int
) -> list[Aggregate]:
    return [
        request_notification(
            replace(plan, step=f"{plan.step}:{episode}"),
            alert_id=subject,
            school=school,
            timestamp=now,
        )
        for plan in plans
    ]


def notice_leave_overdue(app: Lonewatch, visit_id: UUID) -> None:
    """Not left the property on time: ask the visitor (by text) to reply OK."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        visit.notice_leave_overdue(timestamp=now)
        facts, _ = _facts(app, visit)
        # The prompt is about the visit, not an alert: its subject is the visit's id.
        return _notifications(
            visit.id, visit.school, [leave_prompt(facts)], now, visit.leave_prompts
        )

    change(app, visit_id, None, command)


def _ladder_steps(app: Lonewatch, visit: Visit, alert: UUID, now: datetime) -> list[Aggregate]:
    facts, school = _facts(app, visit)
    plans: list[PlannedNotification] = []
    for action in visit.take_steps(timestamp=now):  # a step not needed now is not returned
        plans.extend(ladder_step(action, facts, school.data))
    return _notifications(alert, visit.school, plans, now, visit.overdue_episode)


def notice_overdue(app: Lonewatch, visit_id: UUID) -> None:
    """Not back by the expected return plus grace: an overdue alert, and the ladder's
    first steps (those due at once)."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        visit.notice_overdue(timestamp=now)
        raised = app.raise_alert(
            key=visit.overdue_alert_key,
            kind=AlertKind.OVERDUE,
            school=visit.school,
            device=visit.device,
            staff=visit.lead,
            cause={
                "visit": str(visit.id),
                "episode": visit.overdue_episode,
                "expected_return": visit.expected_return.isoformat(),
            },
            now=now,
            notify=False,  # the visit's own overdue ladder says who is told, and when
        )
        return [*raised, *_ladder_steps(app, visit, raised[0].id, now)]

    change(app, visit_id, None, command)


def take_ladder_steps(app: Lonewatch, visit_id: UUID) -> None:
    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        if not visit.due_steps(now):
            raise DomainError("no overdue step is due")
        return _ladder_steps(app, visit, ids.alert_id(visit.overdue_alert_key), now)

    change(app, visit_id, None, command)


def _visitors_device(app: Lonewatch, visit: Visit) -> DeviceInfo:
    """The lone visitor's device, for an alert about it (silent, low battery); a device no
    longer in the directory raises nothing (the timer is not needed)."""
    info = app.device_info(visit.device or "")
    if info is None:
        raise NotFound(f"device {visit.device!r} is not in the directory")
    return info


def notice_device_silence(app: Lonewatch, visit_id: UUID, last_seen: datetime) -> None:
    """A lone visitor's device has gone quiet: an amber device_offline alert."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        visit.notice_device_silence(last_seen=last_seen, timestamp=now)
        info = _visitors_device(app, visit)
        return app.raise_alert(
            key=visit.device_silence_alert_key(last_seen),
            kind=AlertKind.DEVICE_OFFLINE,
            school=visit.school,
            device=visit.device,
            staff=visit.lead,
            cause={"visit": str(visit.id), "last_seen": last_seen.isoformat()},
            now=now,
            visitor=info.staff_name,
        )

    change(app, visit_id, None, command)


def notice_low_battery(app: Lonewatch, visit_id: UUID, battery: int, message: str) -> None:
    """A lone visitor's device reported a low battery while they are out: an amber
    low_battery alert, once per visit, raised as device_offline is."""

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        visit.notice_low_battery(battery=battery, timestamp=now)
        info = _visitors_device(app, visit)
        return app.raise_alert(
            key=visit.low_battery_alert_key,
            kind=AlertKind.LOW_BATTERY,
            school=visit.school,
            device=visit.device,
            staff=visit.lead,
            cause={
                "visit": str(visit.id),
                "battery": battery,
                "below": (visit.low_battery or {}).get("below"),
                "device_message": message,
            },
            now=now,
            visitor=info.staff_name,
        )

    change(app, visit_id, None, command)


def timer_actions(app: Lonewatch) -> dict[str, TimerAction]:
    """The scheduler's actions for the visit timers the projections write
    (projections/visit_timers.py), by action name."""

    def device_checkin(timer: dict[str, Any], _: datetime) -> None:
        move(
            app,
            UUID(timer["visit"]),
            "checkin",
            by=f"device:{timer['device']}",
            via=f"device checkin {timer['message']}",
            principal=None,
        )

    def app_text(timer: dict[str, Any], _: datetime) -> None:
        app_message(app, UUID(timer["message"]))

    return {
        "visit_leave_overdue": lambda t, _: notice_leave_overdue(app, UUID(t["visit"])),
        "visit_overdue": lambda t, _: notice_overdue(app, UUID(t["visit"])),
        "visit_ladder": lambda t, _: take_ladder_steps(app, UUID(t["visit"])),
        "visit_device_silent": lambda t, _: notice_device_silence(
            app, UUID(t["visit"]), datetime.fromisoformat(t["last_seen"])
        ),
        "visit_low_battery": lambda t, _: notice_low_battery(
            app, UUID(t["visit"]), int(t["battery"]), str(t["message"])
        ),
        "visit_device_checkin": device_checkin,
        "visit_app_text": app_text,
    }


def register_timer_actions(scheduler: TimerRegistry, app: Lonewatch) -> None:
    for action, handler in timer_actions(app).items():
        scheduler.register(action, handler)


def with_timer_actions(scheduler: Registry, app: Lonewatch) -> Registry:
    register_timer_actions(scheduler, app)
    return scheduler
