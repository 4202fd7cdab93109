"""Each route under /api/v1 as the OpenAPI description states it: a summary, a tag, its
parameters and request body (pydantic models: openapi_models.py, openapi_visit_records.py),
what a success answers, and whether it needs no credentials.

service/entrypoints/http/openapi.py assembles the document from this table and the routes
the app really has; tests/integration/test_api_bounds.py fails on a route without an entry
here (or an entry without a route), so the description cannot drift from the routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from service.domain.alerts.alert import AlertKind, AlertState, Outcome
from service.domain.visits.rules import ReportOutcome
from service.domain.visits.states import VisitState
from service.domain.visits.tasks import TaskState
from service.entrypoints.http import openapi_models as models
from service.entrypoints.http.openapi_visit_records import VISIT_RECORD_OPERATIONS

PATH = "/api/v1/openapi.json"
"""Where the description is served (its own entry is in the table, public)."""
VISIT_ACTIONS = (
    "authorise",
    "risk_assessment",
    "companion",
    "decide",
    "parents",
    "confirm",
    "depart",
    "arrive",
    "leave",
    "no_answer",
    "return",
    "extend",
    "cancel",
    "report",
    "close",
)

_ISO = {"type": "string", "format": "date-time", "example": "2026-11-23T14:03:00Z"}
_UUID = {"type": "string", "format": "uuid"}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _id(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or _UUID,
    }


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: type[BaseModel] | None = None
    body_required: bool = True
    ok: int = 200
    ok_type: str = "application/json"
    public: bool = False


_USERNAME = {
    "name": "username",
    "in": "path",
    "required": True,
    "description": "the user's sign-in name",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
_SCHOOL = _q("school", "one school's id (an admin sees every school by default)")
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/v1/health"): Operation(
        "Liveness and readiness: event store, broker, projection lag", "service", public=True
    ),
    ("GET", PATH): Operation("This description", "service", public=True),
    ("GET", "/api/v1/session"): Operation(
        "Who the caller is (and a console session's CSRF token)", "service"
    ),
    ("GET", "/api/v1/alerts"): Operation(
        "The alert feed: open first, red before amber, oldest first",
        "alerts",
        [
            _q(
                "state",
                "open, or one state",
                {"type": "string", "enum": ["open", *(s.value for s in AlertState)]},
            ),
            _SCHOOL,
        ],
    ),
    ("GET", "/api/v1/alerts/{id}"): Operation(
        "One alert (as it was at an instant, with as_of)",
        "alerts",
        [_id("the alert's id"), _q("as_of", "an ISO 8601 instant with its offset", _ISO)],
    ),
    ("POST", "/api/v1/alerts/{id}/acknowledge"): Operation(
        "Take an alert", "alerts", [_id("the alert's id")]
    ),
    ("POST", "/api/v1/alerts/{id}/resolve"): Operation(
        "Close an alert with an outcome and a note",
        "alerts",
        [_id("the alert's id")],
        body=models.ResolveAlert,
    ),
    ("POST", "/api/v1/alerts/{id}/notes"): Operation(
        "Add a note to an open alert (kept in its record)",
        "alerts",
        [_id("the alert's id")],
        body=models.AlertNote,
    ),
    ("POST", "/api/v1/alerts/{id}/handover"): Operation(
        "Hand a taken, open alert to a named colleague, with a note",
        "alerts",
        [_id("the alert's id")],
        body=models.HandOver,
    ),
    ("GET", "/api/v1/colleagues"): Operation("Whom the caller may hand an alert to", "alerts"),
    ("GET", "/api/v1/users"): Operation("Every console user (admins only)", "users"),
    ("POST", "/api/v1/users"): Operation(
        "Invite a user: answers their one-time link to choose a password",
        "users",
        body=models.InviteUser,
        ok=201,
    ),
    ("POST", "/api/v1/users/{username}/role"): Operation(
        "Change a user's role (and school)", "users", [_USERNAME], body=models.ChangeRole
    ),
    ("POST", "/api/v1/users/{username}/phone"): Operation(
        "Give a user a mobile (a handover is texted to it), change or remove it",
        "users",
        [_USERNAME],
        body=models.SetPhone,
    ),
    ("POST", "/api/v1/users/{username}/reset-password"): Operation(
        "End a user's password and sessions; answers a one-time link to choose another",
        "users",
        [_USERNAME],
    ),
    ("POST", "/api/v1/users/{username}/disable"): Operation(
        "Disable a user: no sign-in, session or token of theirs works",
        "users",
        [_USERNAME],
        body=models.DisableUser,
        body_required=False,
    ),
    ("POST", "/api/v1/users/{username}/enable"): Operation(
        "Enable a disabled user again", "users", [_USERNAME]
    ),
    ("GET", "/api/v1/devices"): Operation(
        "Devices: last seen, battery, counts", "devices", [_SCHOOL]
    ),
    ("GET", "/api/v1/devices/{id}"): Operation(
        "One device",
        "devices",
        [_id("the device's id", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})],
    ),
    ("GET", "/api/v1/timeline"): Operation(
        "The recorded events of one subject, in order (give exactly one of alert, visit, device, staff)",
        "records",
        [
            _q("alert", "an alert's id", _UUID),
            _q("visit", "a visit's id", _UUID),
            _q("device", "a device's id"),
            _q("staff", "a staff member's id"),
            _q("from", "an ISO 8601 instant", _ISO),
            _q("to", "an ISO 8601 instant", _ISO),
            _q("as_of", "an ISO 8601 instant (same as to)", _ISO),
            _q(
                "limit",
                "rows in this page: 1 to 10000 (500 when not given), or all for the whole record",
                {"type": "string", "pattern": "^([0-9]{1,5}|all)$", "example": "500"},
            ),
            _q(
                "after",
                "the position the page starts after: the previous page's next_after (0 when not given)",
                {"type": "integer", "minimum": 0},
            ),
        ],
    ),
    ("GET", "/api/v1/timeline/verdict"): Operation(
        "The whole record's integrity verdict alone (no rows, no state), asked for while a "
        "timeline's first page (or a page as of an instant) says integrity.checking; "
        "not recorded as a viewing "
        "(give exactly one of alert, visit, device, staff; who may ask is who may read the timeline)",
        "records",
        [
            _q("alert", "an alert's id", _UUID),
            _q("visit", "a visit's id", _UUID),
            _q("device", "a device's id"),
            _q("staff", "a staff member's id"),
        ],
    ),
    ("GET", "/api/v1/timeline/export"): Operation(
        "A subject's record, for a file (html or json)",
        "records",
        [
            _q("alert", "an alert's id", _UUID),
            _q("visit", "a visit's id", _UUID),
            _q("device", "a device's id"),
            _q("staff", "a staff member's id"),
            _q("format", "html or json", {"type": "string", "enum": ["html", "json"]}),
            _q("to", "an ISO 8601 instant", _ISO),
            _q("as_of", "an ISO 8601 instant (same as to)", _ISO),
        ],
        ok_type="text/html",
    ),
    ("GET", "/api/v1/audit"): Operation(
        "Who viewed or exported which record, and who signed in; newest first",
        "records",
        [
            _q(
                "limit",
                "at most this many (1-5000)",
                {"type": "integer", "minimum": 1, "maximum": 5000},
            ),
            _SCHOOL,
        ],
    ),
    ("GET", "/api/v1/alerts/history"): Operation(
        "Past alerts searched by person, dates, kind, state and outcome; newest first",
        "records",
        [
            _q("staff", "a staff id, or part of a name (any case)"),
            _q("from", "a date (YYYY-MM-DD, from its start) or an instant with its zone"),
            _q("to", "a date (to its end) or an instant with its zone"),
            _q("kind", "one alert kind", {"type": "string", "enum": [k.value for k in AlertKind]}),
            _q(
                "outcome",
                "how it was resolved",
                {"type": "string", "enum": [o.value for o in Outcome]},
            ),
            _q(
                "state",
                "open, or one state",
                {"type": "string", "enum": ["open", *(s.value for s in AlertState)]},
            ),
            _SCHOOL,
            _q("limit", "1-200 (default 50)", {"type": "integer", "minimum": 1, "maximum": 200}),
            _q("offset", "0-100000", {"type": "integer", "minimum": 0, "maximum": 100000}),
        ],
    ),
    ("GET", "/api/v1/visits/history"): Operation(
        "Past visits searched by person, dates, state, outcome; how far each ladder went",
        "records",
        [
            _q("staff", "a staff id, or part of a name (any case)"),
            _q("from", "the visit's day, YYYY-MM-DD (in the school's zone)"),
            _q("to", "the visit's day, YYYY-MM-DD (included)"),
            _q(
                "state",
                "a state, or out for everyone away",
                {"type": "string", "enum": ["out", *(s.value for s in VisitState)]},
            ),
            _q(
                "outcome",
                "the visitor's report",
                {"type": "string", "enum": [o.value for o in ReportOutcome]},
            ),
            _q(
                "overdue",
                "true: only visits that went overdue",
                {"type": "string", "enum": ["true"]},
            ),
            _SCHOOL,
            _q("limit", "1-200 (default 50)", {"type": "integer", "minimum": 1, "maximum": 200}),
            _q("offset", "0-100000", {"type": "integer", "minimum": 0, "maximum": 100000}),
        ],
    ),
    ("GET", "/api/v1/stream"): Operation(
        "Server-Sent Events: alert, visit, device and task changes, live",
        "alerts",
        ok_type="text/event-stream",
    ),
    ("GET", "/api/v1/kpis"): Operation(
        "Alarm-handling figures for a month",
        "records",
        [
            {
                "name": "month",
                "in": "query",
                "required": True,
                "description": "YYYY-MM",
                "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            },
            _SCHOOL,
        ],
    ),
    ("POST", "/api/v1/visits"): Operation(
        "Plan a visit (with its risk assessment, if given)", "visits", body=models.PlanVisit, ok=201
    ),
    ("GET", "/api/v1/staff"): Operation(
        "The staff a visit may be planned for, with their schools' time zones", "visits"
    ),
    ("GET", "/api/v1/visits"): Operation(
        "The board: visits by state, school and date",
        "visits",
        [
            _q(
                "state",
                "a state, or out for everyone away",
                {"type": "string", "enum": ["out", *(s.value for s in VisitState)]},
            ),
            _SCHOOL,
            _q("date", "YYYY-MM-DD", {"type": "string", "format": "date"}),
        ],
    ),
    ("GET", "/api/v1/visits/{id}"): Operation(
        "One visit (as it was at an instant, with as_of)",
        "visits",
        [_id("the visit's id"), _q("as_of", "an ISO 8601 instant with its offset", _ISO)],
    ),
    ("POST", "/api/v1/visits/{id}/{action}"): Operation(
        "Move a visit on",
        "visits",
        [
            _id("the visit's id"),
            {
                "name": "action",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": list(VISIT_ACTIONS)},
            },
        ],
        body=models.VisitAction,
        body_required=False,
    ),
    ("GET", "/api/v1/policy"): Operation(
        "Each school's visit policy as Lonewatch enforces it, beside the policy's own words",
        "visits",
        [_SCHOOL],
    ),
    ("GET", "/api/v1/tasks"): Operation(
        "Tasks the caller may do, oldest first",
        "visits",
        [
            _q("state", "a task state", {"type": "string", "enum": [s.value for s in TaskState]}),
            _SCHOOL,
        ],
    ),
    ("POST", "/api/v1/tasks/{id}/done"): Operation(
        "Mark a task done",
        "visits",
        [_id("the task's id", {"type": "string", "minLength": 1})],
        body=models.TaskDone,
        body_required=False,
    ),
}

OPERATIONS.update(
    {
        key: Operation(
            tag=str(fields.pop("tag", "visits")),
            parameters=fields.pop("parameters", [_id("the visit's id")]),
            **fields,
        )
        for key, fields in ((k, dict(v)) for k, v in VISIT_RECORD_OPERATIONS.items())
    }
)  # at the property and after: service/entrypoints/http/openapi_visit_records.py
