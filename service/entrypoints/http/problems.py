"""Errors as application/problem+json (RFC 9457): a status, a title, and what to fix.
A refusal names people as the console does ("already acknowledged by reception1 (contact
centre)"), not by their recorded actor: the console shows the detail as it comes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.application.lonewatch import Contended
from service.domain.errors import DomainError, Forbidden, InvalidTransition, NotFound
from service.domain.people.naming import people_named
from service.logs import get_logger
from service.workers.pools import PoolFull

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )


class BadRequest(Exception):
    """Input the API cannot use; the message says what to send instead."""


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return problem(400, "Bad request", str(exc))
    except NotFound as exc:
        return problem(404, "Not found", str(exc))
    except Forbidden as exc:
        return problem(403, "Forbidden", str(exc))
    except (InvalidTransition, Contended) as exc:
        return problem(409, "Conflict", people_named(str(exc)))
    except DomainError as exc:
        return problem(422, "Refused", people_named(str(exc)))
    except PoolFull as exc:
        busy = problem(503, "Busy", f"{exc}; this answer does not wait in line")
        busy.headers["Retry-After"] = str(exc.retry_after)
        return busy
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/problem+json":
            return problem(exc.status, exc.reason, exc.text or exc.reason)
        raise
    except Exception:
        log.exception("http_request_failed", path=request.path, method=request.method)
        return problem(500, "Internal error", "the server failed; the error has been logged")
