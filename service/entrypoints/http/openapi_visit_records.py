"""The OpenAPI entries of what is recorded at the property and after (concerns, decisions,
an early end, where next, incidents, follow-ups, the CPOMS export): their request bodies as
pydantic models, and each route's summary, for service/entrypoints/http/openapi_operations.py.

Plain data here (openapi_operations.py makes them `Operation`s), so this module imports
nothing of it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.domain.visits.decisions import Control, Rule
from service.domain.visits.incidents import IncidentKind


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Concern(_Body):
    """POST /api/v1/visits/{id}/concern"""

    words: str = Field(min_length=1, description="what was seen or said; the DSL is told now")


class Decision(_Body):
    """POST /api/v1/visits/{id}/decisions"""

    rule: Rule
    choice: str = Field(min_length=1, description="what the visitor did, e.g. did_not_enter")
    why: str = Field(min_length=1)
    controls: list[Control] = Field(default_factory=list, description="for a bedroom")


class EndEarly(_Body):
    """POST /api/v1/visits/{id}/end_early"""

    reason: str = Field(min_length=1, description="e.g. no responsible adult present")


class NextPlace(_Body):
    """POST /api/v1/visits/{id}/next_place (records leaving the property if not yet)"""

    place: str = Field(min_length=1)


class Incident(_Body):
    """POST /api/v1/visits/{id}/incidents"""

    kind: IncidentKind
    what: str = Field(min_length=1, description="what happened; the headteacher is told")


class FollowUp(_Body):
    """POST /api/v1/visits/{id}/followups"""

    action: str = Field(min_length=1)
    assignee: str = Field(min_length=1, description="a staff id or console user")
    due: date


class FollowUpDone(_Body):
    """POST /api/v1/followups/{id}/done"""

    note: str = ""


_VISIT_ID: dict[str, Any] = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the visit's id",
    "schema": {"type": "string", "format": "uuid"},
}

VISIT_RECORD_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/v1/visits/rules"): {
        "summary": "The rules a decision at the property is recorded under, in the policies' words",
        "parameters": [],
    },
    ("POST", "/api/v1/visits/{id}/concern"): {
        "summary": "A concern at the property, told to the DSL at once",
        "body": Concern,
        "ok": 201,
    },
    ("POST", "/api/v1/visits/{id}/decisions"): {
        "summary": "A decision under a policy rule (invited in by a child, bedroom, ...)",
        "body": Decision,
        "ok": 201,
    },
    ("POST", "/api/v1/visits/{id}/end_early"): {
        "summary": "End the visit early, with its reason",
        "body": EndEarly,
    },
    ("POST", "/api/v1/visits/{id}/next_place"): {
        "summary": "Left the property, and where next",
        "body": NextPlace,
    },
    ("POST", "/api/v1/visits/{id}/incidents"): {
        "summary": "An incident (injury, accusation, threat); the headteacher is told",
        "body": Incident,
        "ok": 201,
    },
    ("POST", "/api/v1/visits/{id}/followups"): {
        "summary": "Log a follow-up action: assigned, due",
        "body": FollowUp,
        "ok": 201,
    },
    ("GET", "/api/v1/visits/{id}/cpoms.csv"): {
        "summary": "The visit's record as CSV, to attach on CPOMS",
        "ok_type": "text/csv",
        "parameters": [_VISIT_ID],
    },
    ("GET", "/api/v1/followups"): {
        "summary": "Follow-up actions, soonest due first",
        "tag": "visits",
        "parameters": [
            {
                "name": "state",
                "in": "query",
                "required": False,
                "description": "open or done",
                "schema": {"type": "string", "enum": ["open", "done"]},
            },
            {
                "name": "school",
                "in": "query",
                "required": False,
                "description": "one school's id",
                "schema": {"type": "string"},
            },
        ],
    },
    ("POST", "/api/v1/followups/{id}/done"): {
        "summary": "Mark a follow-up done",
        "body": FollowUpDone,
        "body_required": False,
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": "followup:<visit>:<n>",
                "schema": {"type": "string", "minLength": 1},
            }
        ],
    },
}
"""(method, path) -> Operation's fields; a visit's path parameter is added where not given."""
