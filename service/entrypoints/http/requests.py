"""What every handler reads from a request and how it answers: the caller (set by the
authentication middlewares, `auth.py`), the JSON body, ids, the schools in view."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from projections.doc_text import dumps
from service.domain.errors import NotFound
from service.domain.people.access import Principal, can_see_school
from service.entrypoints.http.bounds import bounded_instant, checked_json
from service.entrypoints.http.problems import BadRequest

WHO: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
"""Who made the request, set by the authentication middlewares (a typed key: aiohttp warns
`NotAppKeyWarning` for a plain string)."""
SESSION: web.RequestKey[str] = web.RequestKey("console_session", str)
"""The console session's token, when the request was made with its cookie."""


def principal(request: web.Request) -> Principal:
    return request[WHO]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, within the bounds of `bounds.checked_json`."""
    body = checked_json(await request.read())
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


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


def instant(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 instant like 2026-11-23T14:03:00Z") from None
    if found.tzinfo is None:
        raise BadRequest(f"{name} must include a time zone, e.g. ...Z or +00:00")
    return bounded_instant(found, name)
