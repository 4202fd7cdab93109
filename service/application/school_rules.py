"""A school and its home-visit policy, and its staff's training, as visit commands read them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from service.domain import ids
from service.domain.people.directory import School, Staff
from service.domain.visits.policy import VisitPolicy

if TYPE_CHECKING:
    from service.application.unit_of_work import UnitOfWork


def school_of(app: UnitOfWork, key: str) -> School:
    return app.load(ids.school_id(key), School, "school")


DEFAULT_WORKING_HOURS = "08:00-18:00"


def working_hours_of(school: Mapping[str, Any]) -> str:
    """The school's working hours (`working_hours` in its data), outside which only the
    headteacher authorises a visit."""
    return str(school.get("working_hours") or DEFAULT_WORKING_HOURS)


def visit_rules(app: UnitOfWork, key: str) -> VisitPolicy:
    """The school's visit policy as the directory has it now (the defaults where it has none)."""
    return VisitPolicy.from_school(school_of(app, key).policy)


def school_zone(app: UnitOfWork, key: str) -> ZoneInfo:
    """The school's time zone, in which its visits' records tell who did what, when."""
    return ZoneInfo(school_of(app, key).timezone)


def trained_in_safeguarding(app: UnitOfWork, staff: Iterable[str]) -> frozenset[str]:
    """Which of these staff the directory marks as trained in safeguarding."""
    found = (app.load_optional(ids.staff_id(key), Staff) for key in staff)
    return frozenset(s.key for s in found if s is not None and s.safeguarding_trained)
