"""The JSON API's alerts and devices under /api/v1 (INTERFACES.md section 4): list, read,
take and resolve alerts, the live stream, the figures. Handlers parse, call, render."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from aiohttp import web
from aiohttp_sse import sse_response

from projections.doc_text import dumps
from projections.projector import Change
from service.application.lonewatch import Lonewatch
from service.application.visits import can_see_visit
from service.domain.alerts.alert import OPEN_ALERT_STATES, AlertState, parse_outcome
from service.domain.errors import NotFound
from service.domain.people.access import (
    Principal,
    can_handle_alerts,
    can_see_school,
    task_refusal,
)
from service.domain.people.record_access import Access, can_watch
from service.entrypoints.http import records
from service.entrypoints.http.confidential import audited, audited_list, shown
from service.entrypoints.http.keys import HUB, LONEWATCH, POOLS, PROJECTOR, VIEWS
from service.entrypoints.http.people import visit_with_people, with_people
from service.entrypoints.http.problems import BadRequest, problem
from service.entrypoints.http.requests import (
    SESSION,
    instant,
    json_body,
    json_response,
    parse_uuid,
    principal,
    schools_for,
)
from service.logs import get_logger
from service.records.kpis import alarm_figures, parse_month
from service.workers.live import public_change

log = get_logger(__name__)
ALERT_STATES = tuple(s.value for s in AlertState)


def _watcher(request: web.Request) -> None:
    """Alerts, devices and the live stream are for those who watch them (not staff)."""
    who = principal(request)
    if not can_watch(who):
        raise web.HTTPForbidden(
            text=f"a {who.role.value} cannot watch the alert feed or the devices; "
            "staff see their own visits"
        )


def _sort_key(alert: dict[str, Any]) -> tuple[bool, bool, str]:
    """Open alerts first, red before amber, oldest first: what needs a person most."""
    return (alert["state"] not in OPEN_ALERT_STATES, alert["severity"] != "red", alert["raised_at"])


def _visible_alert(request: web.Request, doc: dict[str, Any] | None) -> dict[str, Any]:
    if doc is None or not can_see_school(principal(request), doc["school"]):
        raise NotFound("alert not found")
    return doc


async def list_alerts(request: web.Request) -> web.Response:
    _watcher(request)
    state = request.query.get("state")
    if state is None:
        states: list[str] | None = None
    elif state == "open":
        states = list(OPEN_ALERT_STATES)
    elif state in ALERT_STATES:
        states = [state]
    else:
        raise BadRequest(f"state must be open or one of {', '.join(ALERT_STATES)}, got {state!r}")
    views = request.app[VIEWS]
    docs = await asyncio.to_thread(views.find, "alert", schools=schools_for(request), states=states)
    await audited_list(request, principal(request), len(docs))
    return json_response({"alerts": [with_people(d) for d in sorted(docs, key=_sort_key)]})


async def get_alert(request: web.Request) -> web.Response:
    _watcher(request)
    alert_id = parse_uuid(request.match_info["id"], "alert id")
    as_of = instant(request.query.get("as_of"), "as_of")
    if as_of is not None:
        return await records.alert_as_of(request, alert_id, as_of)
    doc = _visible_alert(
        request, await asyncio.to_thread(request.app[VIEWS].get, "alert", str(alert_id))
    )
    await audited(request, principal(request), f"alert:{alert_id}", doc["school"], Access.ALERT)
    return json_response(with_people(doc))


async def alert_command(
    request: web.Request,
    command: Callable[[UUID, Principal], Any],
    said: Callable[[Any], dict[str, Any]] | None = None,
) -> web.Response:
    """Run `command` on the alert and answer with the alert as the feed shows it, and
    what `said` makes of the command's result (what else the caller should know)."""
    who = principal(request)
    if not can_handle_alerts(who):
        return problem(403, "Forbidden", f"a {who.role.value} cannot take, work or resolve alerts")
    alert_id = parse_uuid(request.match_info["id"], "alert id")
    app = request.app
    _visible_alert(request, await asyncio.to_thread(_alert_from_store, app[LONEWATCH], alert_id))
    result = await asyncio.to_thread(command, alert_id, who)
    await asyncio.to_thread(app[PROJECTOR].catch_up)
    doc = await asyncio.to_thread(app[VIEWS].get, "alert", str(alert_id))
    extra = said(result) if said is not None else {}
    return json_response({**with_people(doc), **extra} if doc is not None else doc)


def _alert_from_store(app: Lonewatch, alert_id: UUID) -> dict[str, Any]:
    """Authorisation reads the event store, not the view, so it is never behind."""
    alert = app.alert(alert_id)
    return {"school": alert.school}


async def acknowledge_alert(request: web.Request) -> web.Response:
    app = request.app[LONEWATCH]
    via = "console" if SESSION in request else "api"  # the record says how it was taken
    return await alert_command(
        request,
        lambda alert_id, who: app.acknowledge_alert(alert_id, by=who.actor, via=via),
    )


async def resolve_alert(request: web.Request) -> web.Response:
    body = await json_body(request)
    outcome = parse_outcome(body.get("outcome"))
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        raise BadRequest("send a JSON body with 'outcome' and a 'note' saying what happened")
    app = request.app[LONEWATCH]
    return await alert_command(
        request,
        lambda alert_id, who: app.resolve_alert(alert_id, outcome=outcome, note=note, by=who.actor),
    )


async def list_devices(request: web.Request) -> web.Response:
    _watcher(request)
    docs = await asyncio.to_thread(request.app[VIEWS].find, "device", schools=schools_for(request))
    return json_response({"devices": sorted(docs, key=lambda d: d["id"])})


async def get_device(request: web.Request) -> web.Response:
    _watcher(request)
    doc = await asyncio.to_thread(request.app[VIEWS].get, "device", request.match_info["id"])
    if doc is None or not can_see_school(principal(request), str(doc.get("school"))):
        raise NotFound("device not found")
    return json_response(doc)


async def stream(request: web.Request) -> web.StreamResponse:
    """Live changes of alerts and devices the caller may see, as Server-Sent Events."""
    _watcher(request)
    hub = request.app[HUB]
    who = principal(request)

    def accept(change: Change) -> bool:
        if change.kind == "visit":
            return can_see_visit(who, str(change.doc.get("school")), change.doc["staff"])
        if change.kind == "task" and task_refusal(who, str(change.doc.get("for_role"))):
            return False  # as GET /api/v1/tasks: a safeguarding concern is the DSL's
        return change.kind in {"alert", "device", "task"} and can_see_school(
            who, str(change.doc.get("school"))
        )

    token, queue = hub.subscribe(accept, owner=who.username)
    opened: web.StreamResponse | None = None
    try:
        async with sse_response(request) as sse:
            opened = sse
            # retry: a console that loses the stream tries again after 1 s, not the default 3 s.
            await sse.send(json.dumps({"subscriber": token}), event="hello", retry=1000)
            while sse.is_connected():
                change = await queue.get()
                if change is None:
                    break
                if change.kind == "visit":  # withheld for this reader first, then worded
                    public = visit_with_people(shown(who, change.doc, public_change(change)))
                else:
                    public = _worded(change)
                await sse.send(dumps(public), event=change.kind, id=str(change.position))
            return sse
    except ConnectionResetError:
        # The browser went (a closed laptop, a reload) while a change was being sent: not a
        # failure of ours, and no traceback (issue 16: one per dropped stream filled the log).
        log.info("stream_closed_by_client", subscriber=token)
        return opened if opened is not None else web.Response(status=204)
    finally:
        hub.unsubscribe(token)


_WORDED: OrderedDict[int, tuple[Change, dict[str, Any]]] = OrderedDict()
_WORDED_KEPT = 256


def _worded(change: Change) -> dict[str, Any]:
    """An alert, device or task change as the stream sends it, people named, worded once for
    every subscriber (each subscriber's loop asks for the same `Change`; ~0.1 ms each for a
    worked alert, on the loop the alarms share). A visit is not: what each reader may see of
    it differs. Only the event loop's thread calls this."""
    hit = _WORDED.get(id(change))
    if hit is not None and hit[0] is change:
        return hit[1]
    public = public_change(change)
    public = with_people(public)
    _WORDED[id(change)] = (change, public)
    while len(_WORDED) > _WORDED_KEPT:
        _WORDED.popitem(last=False)
    return public


async def get_kpis(request: web.Request) -> web.Response:
    """Alarm-handling figures for a month (INTERFACES.md section 6), per school the caller sees."""
    month = parse_month(request.query.get("month"))
    if month is None:
        raise BadRequest("give month=YYYY-MM, e.g. month=2026-11")
    schools = schools_for(request)
    views = request.app[VIEWS]

    def figures() -> dict[str, Any]:
        docs = views.find("alert", schools=schools, limit=1_000_000)
        return alarm_figures(docs, month)

    return json_response(await request.app[POOLS].exports.run(figures))


def add_alert_routes(app: web.Application) -> None:
    """Alerts, devices, the live stream and the figures: for those who watch them."""
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", get_alert)
    app.router.add_post("/api/v1/alerts/{id}/acknowledge", acknowledge_alert)
    app.router.add_post("/api/v1/alerts/{id}/resolve", resolve_alert)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{id}", get_device)
    app.router.add_get("/api/v1/timeline", records.get_timeline)
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/kpis", get_kpis)
