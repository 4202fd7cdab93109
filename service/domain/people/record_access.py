"""Safeguarding records: who may look back at what happened, and the trail their looking leaves.

Every viewing of a timeline or an export by a person is itself recorded, so a
serious case review can ask not only what happened but who has read about it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from eventsourcing.domain import Aggregate, event

from service.domain.people.access import Principal
from service.domain.people.directory import Role


class Access(StrEnum):
    TIMELINE = "timeline"
    STATE_AS_OF = "state_as_of"
    EXPORT_HTML = "export_html"
    EXPORT_JSON = "export_json"
    EXPORT_CSV = "export_csv"  # a visit's record for CPOMS
    REPLAY_CLI = "replay_cli"
    VISIT = "visit"  # a visit read over the API: it names a pupil and an address
    ALERT = "alert"  # an alert read over the API: it names a person and where they are
    LIST = "list"  # a list or search of visits, alerts or tasks (once per person per window)


WATCHERS = frozenset({Role.OPERATOR, Role.DSL, Role.HEADTEACHER, Role.ADMIN})
EXPORTERS = frozenset({Role.DSL, Role.HEADTEACHER, Role.ADMIN})


def can_watch(principal: Principal) -> bool:
    """The contact centre, reception, DSL and headteacher watch alerts and devices;
    staff see their own visits, not the school's feed."""
    return principal.role in WATCHERS


def can_export(principal: Principal) -> bool:
    """An incident record is exported for a safeguarding file: the DSL, the headteacher, an admin."""
    return principal.role in EXPORTERS


def can_read_audit(principal: Principal) -> bool:
    """Who looked at which record is for an admin to list."""
    return principal.role is Role.ADMIN


class RecordAccess(Aggregate):
    """One person looking at one record, once. A new aggregate per viewing: nothing to reload."""

    @event("Viewed")
    def __init__(
        self,
        actor: str,
        role: str,
        school: str | None,
        subject: str,
        access: str,
        detail: str,
        timestamp: datetime,
    ) -> None:
        self.actor = actor
        self.role = role
        self.school = school
        self.subject = subject
        self.access = access
        self.detail = detail
