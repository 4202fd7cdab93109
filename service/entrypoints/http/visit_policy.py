"""Before a visit over HTTP: the school's visit policy applied (name a companion, record the
single-or-pair decision, parents informed, a visitor's confirmation), what it still needs
(`policy` on each visit not yet out), and the school's policy sheet. Handlers parse, call
service/application/visit_policy.py, render."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any
from uuid import UUID

from aiohttp import web

from projections.store import ViewStore
from projections.visit_readiness import refresh_policy
from service.application import visit_policy
from service.application.lonewatch import Lonewatch
from service.domain.people.access import Principal
from service.domain.visits.states import VisitState
from service.domain.visits.visit import Visit
from service.entrypoints.http.keys import LONEWATCH, VIEWS
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import json_response, principal, schools_for

BEFORE_ACTIONS = ("companion", "decide", "parents", "confirm")
NOT_YET_OUT = (VisitState.PLANNED, VisitState.AUTHORISED)


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"send {name!r} as text")
    return value


def before_command(
    app: Lonewatch, action: str, visit_id: UUID, who: Principal, body: dict[str, Any]
) -> Callable[[], Visit] | None:
    """The before-visit action `action`, parsed; None when it is not one of them."""
    if action == "companion":
        name, organisation = _text(body, "name"), _text(body, "organisation")
        phone = body.get("phone")
        if phone is not None and not isinstance(phone, str):
            raise BadRequest("phone must be text like +447700900001")
        return lambda: visit_policy.name_companion(
            app, visit_id, who, name=name, organisation=organisation, phone=phone
        )
    if action == "decide":
        decision, reason = _text(body, "decision"), _text(body, "reason")
        return lambda: visit_policy.decide_companions(
            app, visit_id, who, decision=decision, reason=reason
        )
    if action == "parents":
        informed = body.get("informed")
        if not isinstance(informed, bool):
            raise BadRequest(
                "say whether parents/carers were informed: 'informed': true or false, "
                "with a 'note' (how, or why not)"
            )
        note = _text(body, "note", required=not informed)
        return lambda: visit_policy.record_parents(app, visit_id, who, informed=informed, note=note)
    if action == "confirm":
        what = _text(body, "what")
        return lambda: visit_policy.confirm(app, visit_id, who, what)
    return None


def board_with_policy(
    views: ViewStore,
    *,
    schools: list[str] | None,
    states: list[str] | None,
    who: Principal | None = None,
) -> list[dict[str, Any]]:
    """The board's visits; those not yet out with what their school's policy asks read
    afresh, so a change to the directory shows at once (the board's documents were worded
    when the visit last changed); those still planned with whether `who` may authorise
    them (`authorise`), the reader's own answer, which the shared documents cannot hold."""
    docs = views.find("visit", schools=schools, states=states, limit=10_000)
    read = functools.cache(views.get)  # a school's and a visitor's entries, read once per list
    for doc in docs:
        refresh_policy(read, doc)
        if who is not None and doc.get("state") == VisitState.PLANNED.value:
            school = read("school", str(doc["school"])) or {}
            doc["authorise"] = visit_policy.may_authorise_on_board(who, doc, school)
    return docs


def with_policy(
    app: Lonewatch, visit: Visit, doc: dict[str, Any], who: Principal | None = None
) -> dict[str, Any]:
    """The visit's document with its visitors' names (as the board's documents have them),
    what its school's policy still asks (before it goes out) and, while it is planned,
    whether `who` may authorise it (`authorise`)."""
    names = [app.directory.staff_name(s) or s for s in visit.staff]
    doc = {"staff_names": names, **doc}
    if visit.state not in NOT_YET_OUT:
        return doc
    doc = {**doc, "policy": visit_policy.visit_readiness(app, visit)}
    if who is not None and visit.state is VisitState.PLANNED:
        doc["authorise"] = visit_policy.may_authorise(app, visit, who)
    return doc


async def get_policy_sheets(request: web.Request) -> web.Response:
    """Each school the caller sees: its visit policy as enforced, beside the policy's words."""
    app, who = request.app[LONEWATCH], principal(request)
    wanted = schools_for(request)
    if wanted is None:  # an admin: every school in the directory
        docs = await asyncio.to_thread(request.app[VIEWS].find, "school")
        wanted = sorted(str(d["id"]) for d in docs)
    keys = wanted
    sheets = [await asyncio.to_thread(visit_policy.policy_sheet, app, who, k) for k in keys]
    return json_response({"schools": sheets})


def add_policy_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/policy", get_policy_sheets)
