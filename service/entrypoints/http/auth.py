"""Who is calling: bearer tokens for other systems, a session cookie for people (console
sign-in), CSRF checks on every unsafe request.

Signing in and out, and the session's own endpoint, are service/entrypoints/http/sign_in.py's.

`authenticate` (a middleware) sets `requests.WHO` for every /api/ request but health:
from the bearer token, or, for a request that sends no Authorization header but has the
console's cookie, from the session. Every unsafe method made with a cookie must echo the
session's CSRF token in the `X-CSRF-Token` header (or a `csrf_token` form field): another
site can make the browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from service.application import sessions
from service.domain.people.access import Principal
from service.entrypoints.http.keys import HUB, LONEWATCH, POOLS
from service.entrypoints.http.openapi_operations import PATH as OPENAPI_PATH
from service.entrypoints.http.principal_cache import MAX_TOKEN_LENGTH, PrincipalCache
from service.entrypoints.http.problems import problem
from service.entrypoints.http.requests import SESSION, WHO
from service.logs import get_logger

log = get_logger(__name__)

SESSION_COOKIE = "lw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_SECONDS = 10.0
CACHE_ENTRIES = 5000
TOKEN_CACHE_SECONDS = 10.0
"""How long a running service may still accept a token after `lonewatch token revoke`."""
PUBLIC_PATHS = frozenset({"/api/v1/health", OPENAPI_PATH})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Cache = dict[str, tuple[float, Principal | None]]
TOKENS: web.AppKey[PrincipalCache] = web.AppKey("token_cache", PrincipalCache)
SESSIONS: web.AppKey[Cache] = web.AppKey("session_cache", dict)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
        return await handler(request)
    if "Authorization" not in request.headers and session_token(request):
        return await authenticate_with_session(request, handler)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorised(
            "send 'Authorization: Bearer <token>' (create one with "
            "'lonewatch token create --user USER'), or sign in to the console"
        )
    token = token.strip()
    if len(token) > MAX_TOKEN_LENGTH:
        return _unauthorised("the bearer token is not valid or was revoked")
    cache = request.app[TOKENS]
    known, found = cache.get(token)
    if not known:
        # Anyone can send a made-up token: the look-up waits in its own bounded pool.
        lookups = request.app[POOLS].lookups
        found = await lookups.run(request.app[LONEWATCH].principal_for_token, token)
        cache.put(token, found)
    if found is None:
        return _unauthorised("the bearer token is not valid or was revoked")
    request[WHO] = found
    return await handler(request)


def _unauthorised(detail: str) -> web.Response:
    response = problem(401, "Unauthorised", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="lonewatch"'
    return response


def session_token(request: web.Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE, "").strip()
    return token or None


async def session_principal(request: web.Request) -> Principal | None:
    token = session_token(request)
    if token is None:
        return None
    cache = request.app[SESSIONS]
    hit = cache.get(token)
    if hit is None and len(cache) >= CACHE_ENTRIES:  # random cookies must not grow it forever
        now = time.monotonic()
        for stale in [k for k, (until, _) in cache.items() if until < now]:
            del cache[stale]
        if len(cache) >= CACHE_ENTRIES:
            cache.clear()
    if hit is None or hit[0] < time.monotonic():
        # Anyone can send a made-up cookie: the lookup waits in its own bounded pool.
        lookups = request.app[POOLS].lookups
        found = await lookups.run(sessions.principal_for_session, request.app[LONEWATCH], token)
        hit = (time.monotonic() + CACHE_SECONDS, found)
        cache[token] = hit
    return hit[1]


def forget_user(app: web.Application, username: str) -> None:
    """A user disabled, enabled, reset or given another role: this process forgets their
    cached sessions and tokens, and every cached refusal, at once (another process sharing
    the store, within CACHE_SECONDS)."""
    cache = app[SESSIONS]
    for token in [t for t, (_, who) in cache.items() if not who or who.username == username]:
        del cache[token]
    app[TOKENS].forget(username)
    app[HUB].close_for(username)  # an open live feed reconnects, as the user now stands


def same_origin(request: web.Request) -> bool:
    """A browser names the page that sent an unsafe request; it must be ours."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


async def csrf_ok(request: web.Request, token: str) -> bool:
    if request.method in SAFE_METHODS:
        return True
    if not same_origin(request):
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        sent = str((await request.post()).get("csrf_token", ""))
    return bool(sent) and hmac.compare_digest(str(sent), sessions.csrf_token(token))


async def authenticate_with_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For the API: the console's cookie in place of a bearer token."""
    who = await session_principal(request)
    token = session_token(request)
    if who is None or token is None:
        return problem(401, "Unauthorised", "your console session has ended; sign in again")
    if not await csrf_ok(request, token):
        log.warning("csrf_refused", path=request.path, user=who.username)
        return problem(
            403,
            "Forbidden",
            f"a request made with a console session must send the {CSRF_HEADER} header "
            "from GET /api/v1/session",
        )
    request[WHO] = who
    request[SESSION] = token
    return await handler(request)


def add_principal_caches(app: web.Application) -> None:
    """The caches `authenticate` reads: tokens' and sessions' principals."""
    app[TOKENS] = PrincipalCache(entries=CACHE_ENTRIES, seconds=TOKEN_CACHE_SECONDS)
    app[SESSIONS] = {}
