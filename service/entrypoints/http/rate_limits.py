"""Per-client rate limits on the API (issue 16): a 429 with Retry-After past the limit.

A client is the person a request authenticated as (every token and console session of
theirs together), or, for the few open paths, its address. The limits (`LW_API_RATE_LIMIT`,
default 50 a second and 1,500 a minute: the visit board alone loads about a dozen answers at
once and reloads on each change, which 20 a second refused) come from `limits` (the library
behind Flask-Limiter and SlowAPI): a moving window in memory, per process. Generous for a console
(it polls a few paths every few seconds) and for an integration; a script in a loop slows
to the limit instead of starving the alarm path's lookups and pools.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from service.entrypoints.http.keys import SETTINGS
from service.entrypoints.http.problems import problem
from service.entrypoints.http.requests import WHO

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiRateLimits:
    def __init__(self, spec: str) -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """None if the request may go on (and it is counted); else whole seconds to wait."""
        for item in self.items:
            if not self._limiter.hit(item, client):
                reset = self._limiter.get_window_stats(item, client).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None


LIMITS: web.AppKey[ApiRateLimits] = web.AppKey("api_rate_limits", ApiRateLimits)


def client_of(request: web.Request) -> str:
    who = request.get(WHO)
    return f"user:{who.username}" if who is not None else f"addr:{request.remote}"


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After authentication (it needs the person); only the API is limited."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    limits = request.app.get(LIMITS)
    if limits is None:
        return await handler(request)
    wait = limits.retry_after(client_of(request))
    if wait is None:
        return await handler(request)
    response = problem(
        429,
        "Too many requests",
        f"this client sent more than {' or '.join(str(i) for i in limits.items)}; "
        f"try again in {wait} s",
    )
    response.headers["Retry-After"] = str(wait)
    return response


def add_rate_limits(app: web.Application) -> None:
    app[LIMITS] = ApiRateLimits(app[SETTINGS].api_rate_limit)
