"""The request bodies of the API as pydantic models: their JSON Schemas go into openapi.json.

They describe what the handlers accept (the handlers still parse, with messages a person
can act on); a field added to a handler belongs here too, or schemathesis's contract
test sends bodies without it."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.domain.alerts.alert import Outcome
from service.domain.people.directory import Role
from service.domain.visits.rules import CallHomeOutcome, Purpose


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Hazard(_Body):
    hazard: str = Field(description="e.g. aggressive_person, animals, driving")
    likelihood: str = Field(description="e.g. remote, possible, likely")
    severity: str = Field(description="e.g. minor, major")
    risk: str = Field(description="low, medium or high")
    controls: list[str] = Field(default_factory=list)


class PlanVisit(_Body):
    """POST /api/v1/visits"""

    staff: str | list[str] = Field(description="one staff id (a lone visit) or two (a pair)")
    pupil_ref: str = Field(description="the pupil's opaque reference (never a name)")
    address: str
    purpose: Purpose
    planned_start: AwareDatetime
    expected_leave: AwareDatetime
    expected_return: AwareDatetime
    school: str | None = None
    ref: str | None = Field(default=None, description="your own reference; one visit per ref")
    doorstep: bool = False
    mobile: str | None = Field(default=None, description="a phone number like +447700900001")
    safe_word: str | None = Field(default=None, description="stored hashed, never shown")
    hazards: list[Hazard] | None = Field(default=None, description="the risk assessment")


class VisitAction(_Body):
    """POST /api/v1/visits/{id}/{action}: the fields each action reads (the others ignored).
    extend: reason, expected_leave and/or expected_return; cancel: reason; report:
    outcome, notes, safeguarding_concern; risk_assessment: hazards; companion: name,
    organisation, phone; decide: decision, reason; parents: informed, note; confirm: what."""

    reason: str | None = None
    expected_leave: AwareDatetime | None = None
    expected_return: AwareDatetime | None = None
    outcome: str | None = None
    notes: str | None = None
    safeguarding_concern: bool | None = None
    hazards: list[Hazard] | None = None
    name: str | None = Field(default=None, description="companion: their name")
    organisation: str | None = Field(default=None, description="companion: their agency")
    phone: str | None = Field(default=None, description="companion: a number like +447700900001")
    decision: Literal["single", "pair"] | None = Field(
        default=None, description="decide: one member of staff, or an additional person"
    )
    informed: bool | None = Field(default=None, description="parents: informed before arrival")
    note: str | None = Field(default=None, description="parents: how they were told, or why not")
    what: Literal["risk_assessment", "charged_phone"] | None = Field(
        default=None, description="confirm: what the visitor confirms, for themself"
    )


class ResolveAlert(_Body):
    """POST /api/v1/alerts/{id}/resolve"""

    outcome: Outcome
    note: str = Field(min_length=1, description="what happened")


class AlertNote(_Body):
    """POST /api/v1/alerts/{id}/notes"""

    text: str = Field(min_length=1, max_length=2000, description="e.g. rang the home, no answer")


class HandOver(_Body):
    """POST /api/v1/alerts/{id}/handover"""

    to: str = Field(min_length=1, description="the username of the colleague taking it over")
    note: str = Field(default="", max_length=2000, description="where things stand")


class InviteUser(_Body):
    """POST /api/v1/users"""

    username: str = Field(description="2-64 characters: a-z, 0-9, '.', '-', '_'")
    role: Role
    school: str | None = Field(default=None, description="a school's id; none for an admin")
    phone: str | None = Field(
        default=None, description="their mobile, like +447700900001: a handover is texted to it"
    )


class SetPhone(_Body):
    """POST /api/v1/users/{username}/phone"""

    phone: str | None = Field(description="their mobile, like +447700900001; null for none")


class ChangeRole(_Body):
    """POST /api/v1/users/{username}/role"""

    role: Role
    school: str | None = Field(default=None, description="a school's id; none for an admin")


class DisableUser(_Body):
    """POST /api/v1/users/{username}/disable"""

    reason: str = Field(default="", description="kept in the audit trail")


class TaskDone(_Body):
    """POST /api/v1/tasks/{id}/done"""

    note: str = ""
    outcome: CallHomeOutcome | None = Field(
        default=None, description="for reception's call to the pupil's home"
    )


class Problem(BaseModel):
    """An error (RFC 9457): what went wrong and what to fix."""

    type: Literal["about:blank"] = "about:blank"
    title: str
    status: int
    detail: str
