"""The JSON API under /api/v1 (INTERFACES.md section 4). Handlers parse, call, render."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from aiohttp import web
from aiohttp_sse import sse_response

from projections.projector import Change
from projections.store import dumps
from service.application.visits import can_see_visit
from service.bootstrap import CONTAINER, Container
from service.domain.alerts.alert import OPEN_ALERT_STATES, AlertState, parse_outcome
from service.domain.errors import NotFound
from service.domain.people.access import Principal, can_handle_alerts, can_see_school
from service.domain.people.record_access import can_watch
from service.entrypoints.http import auth, records
from service.entrypoints.http.health import add_health_routes
from service.entrypoints.http.problems import BadRequest, problem, problems_middleware
from service.entrypoints.http.twilio_webhooks import add_webhook_routes
from service.entrypoints.http.voice import add_voice_routes
from service.records.kpis import alarm_figures, parse_month
from service.workers.live import public_change

PRINCIPAL: web.AppKey[Any] = web.AppKey("principal_cache", dict)
ALERT_STATES = tuple(s.value for s in AlertState)
TOKEN_CACHE_SECONDS = 30.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json")


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


def principal(request: web.Request) -> Principal:
    return request[auth.WHO]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or request.path == "/api/v1/health":
        return await handler(request)
    if "Authorization" not in request.headers and auth.session_token(request):
        return await auth.authenticate_with_session(request, handler)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorised(
            "send 'Authorization: Bearer <token>' (create one with "
            "'lonewatch token create --user USER'), or sign in to the console"
        )
    cache: dict[str, tuple[float, Principal | None]] = request.app[PRINCIPAL]
    hit = cache.get(token)
    if hit is None or hit[0] < time.monotonic():
        c = container(request)  # anyone can send a made-up token: its own bounded pool
        found = await c.pools.lookups.run(c.app.principal_for_token, token.strip())
        hit = (time.monotonic() + TOKEN_CACHE_SECONDS, found)
        if len(cache) >= auth.CACHE_ENTRIES:  # made-up tokens must not grow it forever
            cache.clear()
        cache[token] = hit
    if hit[1] is None:
        return _unauthorised("the bearer token is not valid or was revoked")
    request[auth.WHO] = hit[1]
    return await handler(request)


def _unauthorised(detail: str) -> web.Response:
    response = problem(401, "Unauthorised", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="lonewatch"'
    return response


def _watcher(request: web.Request) -> None:
    """Alerts, devices and the live stream are for those who watch them (not staff)."""
    who = principal(request)
    if not can_watch(who):
        raise web.HTTPForbidden(
            text=f"a {who.role.value} cannot watch the alert feed or the devices; "
            "staff see their own visits"
        )


def parse_uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadRequest(f"{what} must be a UUID like 3f9a2c1e-..., got {value!r}") from None


def schools_for(request: web.Request) -> list[str] | None:
    """None means every school (an admin); otherwise the caller's own school."""
    who = principal(request)
    wanted = request.query.get("school")
    if wanted is not None and not can_see_school(who, wanted):
        raise NotFound(f"school {wanted!r} not found")
    if wanted is not None:
        return [wanted]
    return None if can_see_school(who, "*") else [who.school or ""]


def _sort_key(alert: dict[str, Any]) -> tuple[bool, bool, str]:
    """Open alerts first, red before amber, oldest first: what needs a person most."""
    return (alert["state"] == "resolved", alert["severity"] != "red", alert["raised_at"])


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
    views = container(request).views
    docs = await asyncio.to_thread(views.find, "alert", schools=schools_for(request), states=states)
    return json_response({"alerts": sorted(docs, key=_sort_key)})


async def get_alert(request: web.Request) -> web.Response:
    _watcher(request)
    alert_id = parse_uuid(request.match_info["id"], "alert id")
    as_of = records.instant(request.query.get("as_of"), "as_of")
    if as_of is not None:
        return await records.alert_as_of(request, alert_id, as_of)
    doc = await asyncio.to_thread(container(request).views.get, "alert", str(alert_id))
    return json_response(_visible_alert(request, doc))


async def _alert_command(
    request: web.Request, command: Callable[[UUID, Principal], Any]
) -> web.Response:
    who = principal(request)
    if not can_handle_alerts(who):
        return problem(403, "Forbidden", f"a {who.role.value} cannot take or resolve alerts")
    alert_id = parse_uuid(request.match_info["id"], "alert id")
    c = container(request)
    _visible_alert(request, await asyncio.to_thread(_alert_from_store, c, alert_id))
    await asyncio.to_thread(command, alert_id, who)
    await asyncio.to_thread(c.projector.catch_up)
    return json_response(await asyncio.to_thread(c.views.get, "alert", str(alert_id)))


def _alert_from_store(c: Container, alert_id: UUID) -> dict[str, Any]:
    """Authorisation reads the event store, not the view, so it is never behind."""
    alert = c.app.alert(alert_id)
    return {"school": alert.school}


async def acknowledge_alert(request: web.Request) -> web.Response:
    app = container(request).app
    via = "console" if auth.SESSION in request else "api"  # the record says how it was taken
    return await _alert_command(
        request,
        lambda alert_id, who: app.acknowledge_alert(alert_id, by=who.actor, via=via),
    )


async def resolve_alert(request: web.Request) -> web.Response:
    body = await json_body(request)
    outcome = parse_outcome(body.get("outcome"))
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        raise BadRequest("send a JSON body with 'outcome' and a 'note' saying what happened")
    app = container(request).app
    return await _alert_command(
        request,
        lambda alert_id, who: app.resolve_alert(alert_id, outcome=outcome, note=note, by=who.actor),
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def list_devices(request: web.Request) -> web.Response:
    _watcher(request)
    docs = await asyncio.to_thread(
        container(request).views.find, "device", schools=schools_for(request)
    )
    return json_response({"devices": sorted(docs, key=lambda d: d["id"])})


async def get_device(request: web.Request) -> web.Response:
    _watcher(request)
    doc = await asyncio.to_thread(container(request).views.get, "device", request.match_info["id"])
    if doc is None or not can_see_school(principal(request), str(doc.get("school"))):
        raise NotFound("device not found")
    return json_response(doc)


async def stream(request: web.Request) -> web.StreamResponse:
    """Live changes of alerts and devices the caller may see, as Server-Sent Events."""
    _watcher(request)
    c = container(request)
    who = principal(request)

    def accept(change: Change) -> bool:
        if change.kind == "visit":
            return can_see_visit(who, str(change.doc.get("school")), change.doc["staff"])
        return change.kind in {"alert", "device", "task"} and can_see_school(
            who, str(change.doc.get("school"))
        )

    token, queue = c.hub.subscribe(accept)
    try:
        async with sse_response(request) as sse:
            # retry: a console that loses the stream tries again after 1 s, not the default 3 s.
            await sse.send(json.dumps({"subscriber": token}), event="hello", retry=1000)
            while sse.is_connected():
                change = await queue.get()
                if change is None:
                    break
                await sse.send(
                    dumps(public_change(change)), event=change.kind, id=str(change.position)
                )
            return sse
    finally:
        c.hub.unsubscribe(token)


async def get_kpis(request: web.Request) -> web.Response:
    """Alarm-handling figures for a month (INTERFACES.md section 6), per school the caller sees."""
    month = parse_month(request.query.get("month"))
    if month is None:
        raise BadRequest("give month=YYYY-MM, e.g. month=2026-11")
    schools = schools_for(request)
    views = container(request).views

    def figures() -> dict[str, Any]:
        docs = views.find("alert", schools=schools, limit=1_000_000)
        return alarm_figures(docs, month)

    return json_response(await container(request).pools.exports.run(figures))


def add_routes(app: web.Application) -> None:
    app[PRINCIPAL] = {}
    add_health_routes(app)
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", get_alert)
    app.router.add_post("/api/v1/alerts/{id}/acknowledge", acknowledge_alert)
    app.router.add_post("/api/v1/alerts/{id}/resolve", resolve_alert)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{id}", get_device)
    app.router.add_get("/api/v1/timeline", records.get_timeline)
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/kpis", get_kpis)
    add_webhook_routes(app)
    add_voice_routes(app)


MIDDLEWARES = [problems_middleware, auth_middleware]
