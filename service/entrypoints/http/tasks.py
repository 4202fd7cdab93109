"""Tasks the visits give people: reception rings the pupil's home when a visitor is overdue,
the DSL follows up a safeguarding concern. Listed from the `task` views; marked done as a
recorded event on the visit (`Visit.TaskCompleted`: who, when, an optional note and, for the
call home, what reception found)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from service.application import visits
from service.domain.errors import Forbidden, NotFound
from service.domain.people.access import task_refusal
from service.domain.visits.rules import CallHomeOutcome
from service.domain.visits.tasks import TaskState
from service.entrypoints.http.confidential import audited_list
from service.entrypoints.http.keys import LIVE, LONEWATCH, PROJECTOR, VIEWS
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import json_body, json_response, principal, schools_for

STATES = [s.value for s in TaskState]
OUTCOMES = [o.value for o in CallHomeOutcome]


async def list_tasks(request: web.Request) -> web.Response:
    """GET /api/v1/tasks?state=open: the school's tasks the caller may do, oldest first."""
    who = principal(request)
    refusal = task_refusal(who, "reception")
    if refusal:
        raise Forbidden(refusal)
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(f"state must be one of: {', '.join(STATES)}")
    docs = await asyncio.to_thread(
        request.app[VIEWS].find,
        "task",
        schools=schools_for(request),
        states=[state] if state else None,
        limit=10_000,
    )
    shown = [d for d in docs if task_refusal(who, str(d.get("for_role"))) is None]
    await audited_list(request, who, len(shown))
    return json_response({"tasks": sorted(shown, key=lambda d: (d["created_at"], d["id"]))})


async def complete_task(request: web.Request) -> web.Response:
    """POST /api/v1/tasks/{id}/done with an optional {"note": "...", "outcome": "..."}.
    `outcome`, for reception's call to the pupil's home, is one of `CallHomeOutcome`:
    only `contact_made_no_concern` keeps the ladder from informing SLT (policy 003).
    Done again by the same person is answered as before (200), a task someone else
    closed is a 409."""
    who = principal(request)
    task = request.match_info["id"]
    body = await json_body(request) if request.body_exists else {}
    note = body.get("note", "")
    if not isinstance(note, str):
        raise BadRequest("note must be text, e.g. 'spoke to parent, visitor left 10 min ago'")
    outcome = body.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise BadRequest(
            f"outcome must be one of: {', '.join(OUTCOMES)} (what happened when you rang "
            "the pupil's home); leave it out if you did not ring"
        )
    app = request.app
    await asyncio.to_thread(
        visits.complete_task, app[LONEWATCH], task, who, note=note, outcome=outcome
    )
    await asyncio.to_thread(app[PROJECTOR].catch_up)
    app[LIVE].wake()
    doc = await asyncio.to_thread(app[VIEWS].get, "task", task)
    if doc is None:
        raise NotFound("task not found")
    return json_response(doc)


def add_task_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tasks", list_tasks)
    app.router.add_post("/api/v1/tasks/{id}/done", complete_task)
