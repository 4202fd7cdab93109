"""Home visits over HTTP (INTERFACES.md section 4): plan, list (the board), read as of an
instant, and move a visit on. Handlers parse, call service/visit_commands, render."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from projections.store import ViewStore
from service.application import visit_during, visits
from service.application.lonewatch import Lonewatch
from service.domain.people.access import Principal
from service.domain.people.record_access import Access
from service.domain.visits.states import OUT, VisitState
from service.domain.visits.visit import Visit
from service.entrypoints.http.confidential import audited, audited_list, worded
from service.entrypoints.http.keys import LIVE, LONEWATCH, VIEWS
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import (
    instant,
    json_body,
    json_response,
    parse_uuid,
    principal,
    schools_for,
)
from service.entrypoints.http.tasks import add_task_routes
from service.entrypoints.http.visit_policy import (
    add_policy_routes,
    before_command,
    board_with_policy,
    with_policy,
)

MOVES = ("arrive", "leave", "return", "no_answer")
STATE_FILTERS = {"out": [s.value for s in OUT], **{s.value: [s.value] for s in VisitState}}


def render(visit: Visit) -> dict[str, Any]:
    """The visit as the aggregate has it (never the safe word's hash)."""
    return {
        "id": str(visit.id),
        "ref": visit.ref,
        "version": visit.version,
        "school": visit.school,
        "staff": visit.staff,
        "lone": visit.lone,
        "pupil_ref": visit.pupil_ref,
        "address": visit.address,
        "purpose": visit.purpose.value,
        "doorstep": visit.doorstep,
        "mobile": visit.mobile,
        "planned_start": visit.planned_start,
        "expected_leave": visit.expected_leave,
        "expected_return": visit.expected_return,
        "planned_by": visit.planned_by,
        "state": visit.state.value,
        "risk_assessment": visit.hazards,
        "authorised_by": visit.authorised_by,
        "device": visit.device,
        "departed_at": visit.departed_at,
        "leave_deadline": visit.leave_deadline,
        "return_deadline": visit.return_deadline,
        "asked_to_confirm": visit.leave_prompted,
        "overdue": visit.ladder_active,
        "overdue_steps_taken": [visit.ladder_steps[i]["do"] for i in visit.steps_taken]
        if visit.ladder_active
        else [],
        "no_answer": visit.no_answer,
        "report": visit.report,
        "before": visit.before,
        "updated_at": visit.modified_on,
        **visit_during.record_of(visit),  # at the property and after
    }


def _optional_time(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO 8601 instant like 2026-11-23T14:03:00Z")
    return instant(value, name)


def _time(body: dict[str, Any], name: str) -> datetime:
    value = _optional_time(body, name)
    if value is None:
        raise BadRequest(f"send {name}, an ISO 8601 instant like 2026-11-23T14:03:00Z")
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"send {name!r} as text")
    return value


def _plan(body: dict[str, Any], who: Principal) -> visits.VisitPlan:
    staff = body.get("staff")
    if isinstance(staff, str):
        staff = [staff]
    if not isinstance(staff, list) or not all(isinstance(s, str) for s in staff):
        raise BadRequest("staff must be one staff id (a lone visit) or a list of two (a pair)")
    doorstep = body.get("doorstep", False)
    if not isinstance(doorstep, bool):
        raise BadRequest("doorstep must be true or false")
    mobile = body.get("mobile")
    safe_word = body.get("safe_word")
    if mobile is not None and not isinstance(mobile, str):
        raise BadRequest("mobile must be text like +447700900001")
    if safe_word is not None and not isinstance(safe_word, str):
        raise BadRequest("safe_word must be text")
    start, leave, back = (
        _time(body, n) for n in ("planned_start", "expected_leave", "expected_return")
    )
    return visits.VisitPlan(
        ref=_text(body, "ref", required=False) or uuid.uuid4().hex,
        school=_text(body, "school", required=False) or who.school or "",
        staff=staff,
        pupil_ref=_text(body, "pupil_ref"),
        address=_text(body, "address"),
        purpose=_text(body, "purpose"),
        planned_start=start,
        expected_leave=leave,
        expected_return=back,
        doorstep=doorstep,
        mobile=mobile,
        safe_word=safe_word,
    )


def _hazards(body: dict[str, Any]) -> list[dict[str, Any]]:
    hazards = body.get("hazards")
    if not isinstance(hazards, list) or not all(isinstance(h, dict) for h in hazards):
        raise BadRequest(
            "send 'hazards': a list of {hazard, likelihood, severity, risk, controls: [...]}"
        )
    return hazards


async def plan_visit(request: web.Request) -> web.Response:
    app, who = request.app[LONEWATCH], principal(request)
    body = await json_body(request)
    plan = _plan(body, who)
    visit = await asyncio.to_thread(visits.plan_visit, app, plan, who)
    if "hazards" in body:
        visit = await asyncio.to_thread(visits.assess_risk, app, visit.id, who, _hazards(body))
    request.app[LIVE].wake()
    doc = await asyncio.to_thread(with_policy, app, visit, render(visit), who)
    return json_response(worded(who, doc), status=201)


async def list_visits(request: web.Request) -> web.Response:
    """The board: filter by state (a state, or `out` for everyone away), school and date."""
    who = principal(request)
    state = request.query.get("state")
    if state is not None and state not in STATE_FILTERS:
        raise BadRequest(f"state must be one of: {', '.join(STATE_FILTERS)}")
    day = request.query.get("date")
    if day is not None:
        try:
            datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            raise BadRequest("date must look like 2026-11-23") from None
    docs = await asyncio.to_thread(
        board_with_policy,
        request.app[VIEWS],
        schools=schools_for(request),
        states=STATE_FILTERS[state] if state else None,
        who=who,
    )
    board = [
        worded(who, d)
        for d in docs
        if (day is None or d.get("date") == day)
        and visits.can_see_visit(who, d["school"], d["staff"])
    ]
    board.sort(key=lambda d: (d.get("due_back_by") or d["expected_return"], d["id"]))
    await audited_list(request, who, len(board))
    return json_response({"visits": board})


async def get_visit(request: web.Request) -> web.Response:
    app, who = request.app[LONEWATCH], principal(request)
    visit_id = parse_uuid(request.match_info["id"], "visit id")
    # An unencoded '+00:00' arrives as ' 00:00': read it as the offset it was meant to be.
    as_of_text = request.query.get("as_of")
    as_of = instant(as_of_text.replace(" ", "+") if as_of_text else None, "as_of")
    visit = await asyncio.to_thread(visits.load, app, visit_id, who)
    if as_of is not None:
        visit = await asyncio.to_thread(visits.load_as_of, app, visit_id, as_of)
    await audited(request, who, f"visit:{visit_id}", visit.school, Access.VISIT)
    doc = (
        render(visit)
        if as_of
        else await asyncio.to_thread(with_policy, app, visit, render(visit), who)
    )
    return json_response({**worded(who, doc), "as_of": as_of})


def _command(
    app: Lonewatch,
    views: ViewStore,
    action: str,
    visit_id: UUID,
    who: Principal,
    body: dict[str, Any],
) -> Callable[[], Visit]:
    if action in MOVES:
        return lambda: visits.move(app, visit_id, action, by=who.actor, via="api", principal=who)
    if action == "depart":
        return lambda: visits.depart(app, views, visit_id, who)
    if action == "authorise":
        return lambda: visits.authorise(app, visit_id, who)
    if action == "risk_assessment":
        hazards = _hazards(body)
        return lambda: visits.assess_risk(app, visit_id, who, hazards)
    if action == "extend":
        reason = _text(body, "reason")
        leave = _optional_time(body, "expected_leave")
        back = _optional_time(body, "expected_return")
        return lambda: visits.extend(
            app, visit_id, who, reason=reason, expected_leave=leave, expected_return=back
        )
    if action == "cancel":
        reason = _text(body, "reason")
        return lambda: visits.cancel(app, visit_id, who, reason)
    if action == "report":
        concern = body.get("safeguarding_concern")
        if not isinstance(concern, bool):
            raise BadRequest("say whether there is a safeguarding concern: true or false")
        outcome, notes = _text(body, "outcome"), _text(body, "notes")
        return lambda: visits.report(
            app, visit_id, who, outcome=outcome, notes=notes, safeguarding_concern=concern
        )
    if action == "close":
        return lambda: visits.close(app, visit_id, who)
    before = before_command(app, action, visit_id, who, body)
    if before is not None:
        return before
    known = (
        "authorise, risk_assessment, companion, decide, parents, confirm, depart, arrive, "
        "leave, no_answer, return, extend, cancel, report, close"
    )
    raise web.HTTPNotFound(text=f"no visit action {action!r}; the actions are: {known}")


async def visit_action(request: web.Request) -> web.Response:
    who = principal(request)
    visit_id = parse_uuid(request.match_info["id"], "visit id")
    body = await json_body(request) if request.body_exists else {}
    action = request.match_info["action"]
    command = _command(request.app[LONEWATCH], request.app[VIEWS], action, visit_id, who, body)
    visit = await asyncio.to_thread(command)
    request.app[LIVE].wake()
    doc = await asyncio.to_thread(with_policy, request.app[LONEWATCH], visit, render(visit), who)
    return json_response(worded(who, doc))


def add_visit_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/visits", plan_visit)
    app.router.add_get("/api/v1/visits", list_visits)
    app.router.add_get("/api/v1/visits/{id}", get_visit)
    app.router.add_post("/api/v1/visits/{id}/{action}", visit_action)
    add_task_routes(app)
    add_policy_routes(app)
