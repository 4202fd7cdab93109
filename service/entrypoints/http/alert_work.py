"""Working an open alert over the API: a note, a handover to a named colleague, and who
the colleagues are. Handlers parse, call the use case (service/application/alert_notes.py),
answer with the alert as the feed shows it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from service.application import alert_notes
from service.domain.alerts.working import note_text
from service.domain.people.access import can_handle_alerts
from service.domain.people.naming import person
from service.entrypoints.http.api import alert_command
from service.entrypoints.http.keys import LONEWATCH
from service.entrypoints.http.problems import BadRequest, problem
from service.entrypoints.http.requests import json_body, json_response, principal


async def add_note(request: web.Request) -> web.Response:
    """POST /api/v1/alerts/{id}/notes {"text": ...}"""
    body = await json_body(request)
    text = note_text(body.get("text"))
    app = request.app[LONEWATCH]
    return await alert_command(
        request,
        lambda alert_id, who: alert_notes.add_note(app, alert_id, text=text, by=who.actor),
    )


async def hand_over(request: web.Request) -> web.Response:
    """POST /api/v1/alerts/{id}/handover {"to": username, "note": ...}"""
    body = await json_body(request)
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        raise BadRequest("send 'to': the username of the colleague taking the alert over")
    note = note_text(body.get("note", ""), needed=False)
    app = request.app[LONEWATCH]
    return await alert_command(
        request,
        lambda alert_id, who: alert_notes.hand_over(
            app, alert_id, to=to.strip(), note=note, by=who.actor, named=person
        ),
        handover_said,
    )


def handover_said(done: alert_notes.Handover) -> dict[str, Any]:
    """`handover`: whether the colleague is being texted, in words for the one who handed
    it over (with no mobile on record, they must tell the colleague themselves)."""
    who = person(done.to)
    if done.to == done.by:
        said = "The alert is yours now."
    elif done.texted is not None:
        said = f"{who} is being texted that the alert is theirs."
    else:
        said = f"{who} was not texted: no mobile on record. Tell them yourself."
    return {
        "handover": {
            "to": done.to,
            "texted": done.texted is not None,
            "notification": str(done.texted) if done.texted else None,
            "said": said,
        }
    }


async def list_colleagues(request: web.Request) -> web.Response:
    """GET /api/v1/colleagues: whom the caller may hand an alert to (of their school)."""
    who = principal(request)
    if not can_handle_alerts(who):
        return problem(403, "Forbidden", f"a {who.role.value} cannot hand alerts over")
    found = await asyncio.to_thread(alert_notes.colleagues, request.app[LONEWATCH], who.school)
    return json_response(
        {
            "colleagues": [
                {
                    "username": p.username,
                    "role": p.role.value,
                    "school": p.school,
                    "actor": p.actor,
                    "named": person(p.actor),
                }
                for p in found
            ]
        }
    )


def add_alert_work_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/alerts/{id}/notes", add_note)
    app.router.add_post("/api/v1/alerts/{id}/handover", hand_over)
    app.router.add_get("/api/v1/colleagues", list_colleagues)
