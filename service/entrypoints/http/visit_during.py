"""At the property and after, over HTTP: a concern, a decision under a policy rule, the visit
ended early, where next, an incident; follow-up actions (the DSL's board, marked done) and the
visit's record as CSV for CPOMS. Handlers parse, call the use cases, render.

Registered before the generic POST /api/v1/visits/{id}/{action}, which would take these paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from uuid import UUID

from aiohttp import web

from service.application import followups, visit_during
from service.application.lonewatch import Lonewatch
from service.domain.errors import Forbidden
from service.domain.people.access import Principal
from service.domain.people.record_access import Access, can_export
from service.domain.visits.decisions import BEDROOM_CONTROLS_WORDS, RULES, parse_rule
from service.domain.visits.incidents import parse_incident_kind
from service.domain.visits.visit import Visit
from service.entrypoints.http.confidential import audited, audited_list, worded
from service.entrypoints.http.keys import LIVE, LONEWATCH, VIEWS
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import (
    json_body,
    json_response,
    parse_uuid,
    principal,
    schools_for,
)
from service.entrypoints.http.visits import render

FOLLOWUP_STATES = ("open", "done")


def _text(body: dict[str, Any], name: str, example: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"send {name!r} as text, e.g. {example!r}")
    return value


def _command(
    app: Lonewatch, action: str, visit_id: UUID, who: Principal, body: dict[str, Any]
) -> Callable[[], Visit | str]:
    """The use case an action path names, with what its body must carry."""
    by, via = who.actor, "api"
    if action == "concern":
        words = _text(body, "words", "child at home alone")
        return lambda: visit_during.raise_concern(
            app, visit_id, words=words, by=by, via=via, principal=who
        )
    if action == "decisions":
        try:
            rule = parse_rule(body.get("rule"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        choice = _text(body, "choice", "did_not_enter")
        why = _text(body, "why", "a child answered the door; no adult at home")
        controls = body.get("controls", [])
        if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
            raise BadRequest("controls must be a list like ['signed_agreement', 'accompanied']")
        return lambda: visit_during.record_decision(
            app,
            visit_id,
            rule=rule,
            choice=choice,
            why=why,
            controls=controls,
            by=by,
            via=via,
            principal=who,
        )
    if action == "end_early":
        reason = _text(body, "reason", "no responsible adult present")
        return lambda: visit_during.end_early(
            app, visit_id, words=reason, by=by, via=via, principal=who
        )
    if action == "next_place":
        place = _text(body, "place", "Tesco car park, then school")
        return lambda: visit_during.left_for(
            app, visit_id, place=place, by=by, via=via, principal=who
        )
    if action == "incidents":
        kind = parse_incident_kind(body.get("kind"))
        what = _text(body, "what", "bitten by a dog in the hall")
        return lambda: visit_during.record_incident(
            app, visit_id, kind=kind, what=what, by=by, via=via, principal=who
        )
    if action == "followups":
        action_text = _text(body, "action", "ring mum about attendance on Friday")
        assignee = _text(body, "assignee", "dsl1")
        due_text = _text(body, "due", "2026-11-27")
        try:
            due = date.fromisoformat(due_text)
        except ValueError:
            raise BadRequest("due must be a date like 2026-11-27") from None
        return lambda: followups.log_followup(
            app, visit_id, who, action=action_text, assignee=assignee, due=due
        )
    raise web.HTTPNotFound(text=f"no visit action {action!r}")


RECORDS = ("concern", "decisions", "end_early", "next_place", "incidents", "followups")
"""POST /api/v1/visits/{id}/<record>: each adds to the visit's record (201), or moves it on."""


def _recording(what: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        who = principal(request)
        visit_id = parse_uuid(request.match_info["id"], "visit id")
        body = await json_body(request)
        app = request.app[LONEWATCH]
        command = _command(app, what, visit_id, who, body)
        result = await asyncio.to_thread(command)
        visit = (
            result
            if isinstance(result, Visit)
            else await asyncio.to_thread(app.load, visit_id, Visit, "visit")
        )
        request.app[LIVE].wake()
        status = 200 if what in ("next_place", "end_early") else 201
        return json_response(worded(who, render(visit)), status=status)

    return handler


async def cpoms_export(request: web.Request) -> web.Response:
    """GET /api/v1/visits/{id}/cpoms.csv: the visit's record, for a safeguarding file."""
    who = principal(request)
    if not can_export(who):
        raise Forbidden("the DSL, the headteacher or an admin exports a visit's record")
    visit_id = parse_uuid(request.match_info["id"], "visit id")
    visit, text = await asyncio.to_thread(
        followups.cpoms_csv, request.app[LONEWATCH], visit_id, who
    )
    await audited(request, who, f"visit:{visit_id}", visit.school, Access.EXPORT_CSV)
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="visit-{visit.ref}-cpoms.csv"'},
    )


async def list_followups(request: web.Request) -> web.Response:
    """GET /api/v1/followups?state=open: the follow-ups the caller may see, soonest due first."""
    who = principal(request)
    state = request.query.get("state")
    if state is not None and state not in FOLLOWUP_STATES:
        raise BadRequest(f"state must be one of: {', '.join(FOLLOWUP_STATES)}")
    docs = await asyncio.to_thread(
        request.app[VIEWS].find,
        "followup",
        schools=schools_for(request),
        states=[state] if state else None,
        limit=10_000,
    )
    mine = [
        d
        for d in docs
        if can_export(who) or who.username in (d.get("assignee"), *d.get("staff", []))
    ]
    await audited_list(request, who, len(mine))
    shown_docs = [worded(who, d) for d in sorted(mine, key=lambda d: (d["due"], d["id"]))]
    return json_response({"followups": shown_docs})


async def complete_followup(request: web.Request) -> web.Response:
    """POST /api/v1/followups/{id}/done with an optional {"note": "..."}."""
    who = principal(request)
    body = await json_body(request) if request.body_exists else {}
    note = body.get("note", "")
    if not isinstance(note, str):
        raise BadRequest("note must be text, e.g. 'rang mum; attendance plan agreed'")
    key = request.match_info["id"]
    changed = await asyncio.to_thread(
        followups.complete_followup, request.app[LONEWATCH], key, who, note=note
    )
    request.app[LIVE].wake()
    return json_response({"id": key, "state": "done", "changed": changed})


async def during_rules(request: web.Request) -> web.Response:
    """GET /api/v1/visits/rules: the rules a decision is recorded under, in the policies'
    words, with the choices each offers (the console's decision form reads them here)."""
    principal(request)
    return json_response(
        {
            "rules": [
                {
                    "rule": rule.value,
                    "words": text.words,
                    "choices": list(text.choices),
                    "ends_visit": sorted(text.ends_visit),
                }
                for rule, text in RULES.items()
            ],
            "controls": {c.value: words for c, words in BEDROOM_CONTROLS_WORDS.items()},
        }
    )


def add_visit_record_routes(app: web.Application) -> None:
    """Before add_visit_routes: its POST /visits/{id}/{action} would take these paths, and
    GET /visits/{id} the rules."""
    app.router.add_get("/api/v1/visits/rules", during_rules)
    app.router.add_get("/api/v1/visits/{id}/cpoms.csv", cpoms_export)
    for what in RECORDS:
        app.router.add_post(f"/api/v1/visits/{{id}}/{what}", _recording(what))
    app.router.add_get("/api/v1/followups", list_followups)
    app.router.add_post("/api/v1/followups/{id}/done", complete_followup)
