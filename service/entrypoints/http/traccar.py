"""Traccar's event and position forwarding into the device intake (INTERFACES.md section 8).

`POST /integrations/traccar/events` takes `event.forward.*`, `POST
/integrations/traccar/positions` takes `forward.*` (type json). Both need the bearer token
made with `lonewatch token create --integration traccar` (Traccar sends it as the
`Authorization` header it is configured with). The answer is 2xx only once what the
forward says is committed, and for a repeat too (Traccar retries positions on anything
else); the intake, shared with the MQTT gateway, dedupes on the ids Traccar gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from device_gateway.messages import DeviceReading, Rejection
from device_gateway.traccar import (
    Forwarded,
    TraccarRefused,
    event_readings,
    parse_body,
    position_readings,
)
from service.application.device_intake import Intaken, Outcome
from service.application.integrations import device_for, grant_for_token
from service.entrypoints.http.keys import DEVICE_INBOX, LONEWATCH, POOLS, DeviceInbox
from service.entrypoints.http.problems import problem
from service.logs import get_logger

log = get_logger(__name__)

INTEGRATION = "traccar"
EVENTS_PATH = "/integrations/traccar/events"
POSITIONS_PATH = "/integrations/traccar/positions"
GRANT_CACHE_SECONDS = 30.0
GRANTS: web.AppKey[dict[str, tuple[float, Any]]] = web.AppKey("traccar_grants", dict)

Translate = Callable[[str, dict[str, Any]], list[DeviceReading | Rejection]]


async def _refused_caller(request: web.Request) -> web.Response | None:
    """401 without a valid token, 403 with one that is not Traccar's; None when allowed."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorised(
            "send 'Authorization: Bearer <token>' (traccar.xml: forward.header / "
            "event.forward.header; make the token with "
            "'lonewatch token create --integration traccar')"
        )
    cache = request.app[GRANTS]
    hit = cache.get(token)
    if hit is None or hit[0] < time.monotonic():
        # Anyone can send a made-up token: the look-up waits in its own bounded pool.
        grant = await request.app[POOLS].lookups.run(grant_for_token, request.app[LONEWATCH], token)
        if len(cache) >= 1000:
            cache.clear()
        hit = cache[token] = (time.monotonic() + GRANT_CACHE_SECONDS, grant)
    grant = hit[1]
    if grant is None:
        return _unauthorised("the bearer token is not valid or was revoked")
    if grant.integration != INTEGRATION:
        log.warning("traccar_forward_wrong_token", path=request.path, remote=request.remote)
        return problem(
            403,
            "Forbidden",
            "this token is not a Traccar integration token; make one with "
            "'lonewatch token create --integration traccar'",
        )
    return None


def _unauthorised(detail: str) -> web.Response:
    response = problem(401, "Unauthorised", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="lonewatch"'
    return response


async def _take(request: web.Request, wants: str, translate: Translate) -> web.Response:
    refused = await _refused_caller(request)
    if refused is not None:
        return refused
    try:
        forwarded = parse_body(await request.read(), wants)
    except TraccarRefused as exc:
        log.warning(
            "traccar_forward_rejected", path=request.path, reason="bad_body", detail=str(exc)
        )
        return problem(400, "Bad request", str(exc))
    device = await request.app[POOLS].lookups.run(
        device_for, request.app[LONEWATCH], "traccar", forwarded.unique_id
    )
    if device is None:
        log.warning(
            "traccar_forward_rejected",
            path=request.path,
            reason="unknown_device",
            unique_id=forwarded.unique_id,
        )
        return problem(
            404,
            "Not found",
            f"no device in the directory has traccar_unique_id {forwarded.unique_id!r}",
        )
    return await _record(request.app[DEVICE_INBOX], request.path, device, forwarded, translate)


async def _record(
    inbox: DeviceInbox, path: str, device: str, forwarded: Forwarded, translate: Translate
) -> web.Response:
    translated = translate(device, forwarded.body)
    readings = [r for r in translated if isinstance(r, DeviceReading)]
    rejected = [r for r in translated if isinstance(r, Rejection)]
    for rejection in rejected:
        inbox.stats[f"rejected:{rejection.reason.value}"] += 1
        log.warning(
            "device_message_rejected",
            source="traccar",
            reason=rejection.reason.value,
            detail=rejection.detail,
            device=device,
            kind=rejection.kind,
        )
    if not readings:
        return problem(422, "Refused", "; ".join(r.detail for r in rejected))
    try:
        results = await asyncio.to_thread(inbox.record, readings)
    except Exception as exc:
        # Nothing was committed: Traccar retries a position on a non-2xx (an event it does not).
        log.exception("traccar_forward_not_recorded", path=path, device=device)
        busy = problem(503, "Unavailable", f"not recorded, try again: {type(exc).__name__}")
        busy.headers["Retry-After"] = "1"
        return busy
    requested = [n for result in results for n in result.requested]
    if requested:
        inbox.submit(requested)
    inbox.wake()
    return _answer(device, readings, results, rejected)


def _answer(
    device: str,
    readings: list[DeviceReading],
    results: list[Intaken],
    rejected: list[Rejection],
) -> web.Response:
    body: dict[str, Any] = {
        "device": device,
        "recorded": [],
        "rejected": [{"reason": r.reason.value, "detail": r.detail} for r in rejected],
    }
    for reading, result in zip(readings, results, strict=True):
        entry = {"id": reading.msg_id, "kind": reading.kind, "outcome": result.outcome.value}
        if result.alert_id is not None:
            entry["alert_id"] = str(result.alert_id)
        if result.outcome is Outcome.RECORDED and result.alert_id is not None:
            log.info(
                "alert_message_recorded",
                source="traccar",
                device=device,
                kind=reading.kind,
                alert=str(result.alert_id),
                joined_open_alert=result.joined_open_alert,
            )
        body["recorded"].append(entry)
    return web.json_response(body)


async def take_event(request: web.Request) -> web.Response:
    return await _take(request, "event", event_readings)


async def take_position(request: web.Request) -> web.Response:
    return await _take(request, "position", position_readings)


def add_traccar_routes(app: web.Application) -> None:
    app[GRANTS] = {}
    app.router.add_post(EVENTS_PATH, take_event)
    app.router.add_post(POSITIONS_PATH, take_position)
