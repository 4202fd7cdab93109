"""What a request may be (issue 16): its size, how long it may take to arrive, how deep its
JSON may nest, what its text may hold, which instants it may name. Outside the bounds a
client gets a 4xx problem saying which bound, never a 500.

Each bound is here once: `bounds_middleware` checks what every request has (size, time to
send the body, query and path text); `checked_json` is what `api.json_body` parses with;
`bounded_instant` is what `records.instant` returns through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from service.entrypoints.http.problems import BadRequest, problem

MAX_BODY = 64 * 1024
"""A JSON or form body: a plan with its risk assessment is ~3 KB; Twilio's forms are smaller."""
BODY_SECONDS = 10.0
"""A body must arrive within this: a half-sent request does not hold a connection open."""
HEADER_SECONDS = 15.0
"""Passed to aiohttp as `keepalive_timeout`: a connection that has not sent a whole request
head within this is closed (aiohttp's own check of idle connections covers a slow head)."""
MAX_DEPTH = 16
MAX_TEXT = 10_000
"""Nesting of JSON arrays and objects, and characters in any one string in a body (NaN and
Infinity, which json.loads accepts, are refused as not JSON)."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Instants a request may name: a record, a visit or a deadline outside these is a typo."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def text_problem(value: str) -> str | None:
    """Why this text cannot be recorded, or None: NUL cannot be stored in PostgreSQL, a lone
    surrogate cannot be encoded (json.loads accepts both)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    if len(value) > MAX_TEXT:
        return f"is longer than {MAX_TEXT} characters"
    return None


def _walk(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadRequest(f"the JSON body nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if (why := text_problem(value)) is not None:
            raise BadRequest(f"{where} {why}")
    elif isinstance(value, dict):
        for key, item in value.items():
            if (why := text_problem(key)) is not None:
                raise BadRequest(f"a field name in {where} {why}")
            _walk(item, f"{where}.{key}" if where != "the body" else repr(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", depth + 1)


def checked_json(raw: bytes) -> Any:
    """Parse a body with every bound checked; BadRequest says which one it broke."""
    try:
        found = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(f"the JSON body nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError):  # ValueError: bad JSON, NaN, a 5,000-digit number
        raise BadRequest("the request body must be a JSON object") from None
    _walk(found, "the body", 0)
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def bounded_instant(found: datetime, name: str) -> datetime:
    """An instant within EARLIEST..LATEST (further out, arithmetic on it overflows)."""
    try:
        utc = found.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise BadRequest(
            f"{name} must fall between {EARLIEST.year} and {LATEST.year - 1}, got {found.isoformat()}"
        )
    return found


def _query_problem(request: web.Request) -> str | None:
    for key, value in [*request.query.items(), *request.match_info.items()]:
        for text, what in ((key, "a parameter name"), (value, f"the parameter {key!r}")):
            if (why := text_problem(text)) is not None:
                return f"{what} {why}"
    return None


@web.middleware
async def bounds_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The body read whole, within MAX_BODY and BODY_SECONDS, before any handler sees it
    (aiohttp keeps it: the handler's `request.json()` or `post()` reads the copy)."""
    if (why := _query_problem(request)) is not None:
        return problem(400, "Bad request", f"{why}; send it without")
    if request.body_exists:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _too_large()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                body = await request.read()
        except TimeoutError:
            return problem(
                408, "Request timeout", f"the body did not arrive within {BODY_SECONDS:.0f} s"
            )
        except web.HTTPRequestEntityTooLarge:
            return _too_large()
        if len(body) > MAX_BODY:
            return _too_large()
    return await handler(request)


def _too_large() -> web.Response:
    response = problem(
        413, "Request too large", f"a request body may be at most {MAX_BODY // 1024} KiB"
    )
    response.force_close()  # the rest of what was sent is not read
    return response
