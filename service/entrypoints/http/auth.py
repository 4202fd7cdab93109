"""Who is calling: bearer tokens for other systems, a session cookie for people (console
sign-in), CSRF checks on every unsafe request.

`authenticate` (a middleware) sets `requests.WHO` for every /api/ request but health:
from the bearer token, or, for a request that sends no Authorization header but has the
console's cookie, from the session. Every unsafe method made with a cookie must echo the
session's CSRF token in the `X-CSRF-Token` header (or a `csrf_token` form field): another
site can make the browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from service.adapters.sign_in_failures import SignInFailures
from service.application import sessions
from service.domain.people.access import Principal
from service.domain.people.accounts import can_manage_users
from service.domain.people.directory import timezone_of
from service.domain.people.record_access import can_export, can_read_audit, can_watch
from service.domain.people.sessions import SESSION_LIFETIME
from service.domain.people.sign_in_limits import Limited, SignInLimits
from service.entrypoints.http.keys import HUB, LONEWATCH, POOLS, PROVIDER, SETTINGS, VIEWS
from service.entrypoints.http.openapi import PATH as OPENAPI_PATH
from service.entrypoints.http.principal_cache import MAX_TOKEN_LENGTH, PrincipalCache
from service.entrypoints.http.problems import problem
from service.entrypoints.http.requests import SESSION, WHO, json_response, principal
from service.logs import get_logger
from service.workers.pools import PoolFull

log = get_logger(__name__)
T = TypeVar("T")

SESSION_COOKIE = "lw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_SECONDS = 10.0
CACHE_ENTRIES = 5000
TOKEN_CACHE_SECONDS = 10.0
"""How long a running service may still accept a token after `lonewatch token revoke`."""
PUBLIC_PATHS = frozenset({"/api/v1/health", OPENAPI_PATH})
LOG_EVERY = 10.0  # seconds between two log lines of one kind of refusal in a flood
# A limited attempt is answered after a pause: a person waits a second once, a flood of
# clients that send the next attempt as soon as answered slows to one a second each. Only
# a coroutine waits (no thread, no place in any pool).
REFUSAL_PAUSE = 1.0
STATIC = Path(__file__).parent / "static"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Cache = dict[str, tuple[float, Principal | None]]
TOKENS: web.AppKey[PrincipalCache] = web.AppKey("token_cache", PrincipalCache)
SESSIONS: web.AppKey[Cache] = web.AppKey("session_cache", dict)
LIMITS: web.AppKey[SignInLimits] = web.AppKey("sign_in_limits", SignInLimits)
SHARED_LIMITS: web.AppKey[SignInFailures | None] = web.AppKey("sign_in_failures")
"""Every process's failed sign-ins (PostgreSQL), when several processes share the store."""
COUNTS: web.AppKey[Counter[str]] = web.AppKey("sign_in_counts", Counter)


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


# -- sign in and out -------------------------------------------------------------


@cache
def _login_template() -> str:
    return (STATIC / "login.html").read_text(encoding="utf-8")


def _login_page(message: str = "", username: str = "", next_url: str = "", notice: str = "") -> str:
    from html import escape

    page = _login_template()
    error = f'<p class="form-error" role="alert">{escape(message)}</p>' if message else ""
    if notice:  # good news (a password just chosen): said, not alarmed
        error += f'<p class="form-notice" role="status">{escape(notice)}</p>'
    return (
        page.replace("<!--error-->", error)
        .replace("{{username}}", escape(username, quote=True))
        .replace("{{next}}", escape(next_url, quote=True))
    )


def _safe_next(value: str) -> str:
    """Only back into the console: never an open redirect."""
    return value if value.startswith("/console/") and "//" not in value else "/console/"


async def login_form(request: web.Request) -> web.StreamResponse:
    if await session_principal(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next", "")))
    welcomed = "welcome" in request.query  # from the page where a one-time link set a password
    return web.Response(
        text=_login_page(
            next_url=_safe_next(request.query.get("next", "")),
            username=request.query.get("user", "")[:64] if welcomed else "",
            notice="Your password is set. Sign in with it." if welcomed else "",
        ),
        content_type="text/html",
    )


class _Quiet:
    """One log line per kind of refusal every LOG_EVERY seconds, with how many were not
    logged: a flood must not become a flood of log lines."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._skipped: Counter[str] = Counter()

    def due(self, kind: str, now: float) -> int | None:
        """None to stay quiet; otherwise how many of this kind went unlogged before."""
        if now - self._last.get(kind, -LOG_EVERY) < LOG_EVERY:
            self._skipped[kind] += 1
            return None
        self._last[kind] = now
        return self._skipped.pop(kind, 0)


QUIET: web.AppKey[_Quiet] = web.AppKey("sign_in_quiet", _Quiet)


def _note(request: web.Request, kind: str, **context: object) -> None:
    """Count a sign-in outcome and log it, rate-limited; never a password."""
    counts = request.app[COUNTS]
    counts[kind] += 1
    skipped = request.app[QUIET].due(kind, time.monotonic())
    if skipped is not None:
        log.warning(kind, remote=request.remote, not_logged=skipped, counts=dict(counts), **context)


def _in_words(seconds: int) -> str:
    if seconds == 1:
        return "a second"
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"


def _refused_page(
    status: int, retry_after: int, message: str, username: str, next_url: str
) -> web.Response:
    return web.Response(
        status=status,
        text=_login_page(message, username, next_url),
        content_type="text/html",
        headers={"Retry-After": str(retry_after)},
    )


def _limited_message(limited: Limited) -> str:
    wait = _in_words(limited.retry_after)
    if limited.scope == "address":
        return f"Too many failed sign-ins from this computer. Try again in {wait}."
    if limited.scope == "checking":
        return f"Another sign-in from this computer is being checked. Try again in {wait}."
    return (
        f"Too many wrong passwords for this name from this computer. "
        f"Try again in {wait}, or ask an admin to set a new password."
    )


async def _shared(request: web.Request, call: Callable[..., T], *args: Any) -> T | None:
    """A call on the shared sign-in failures, in the lookups pool. If it cannot be made
    (the pool is full, the store is down), this process's own limits still hold."""
    try:
        return await request.app[POOLS].lookups.run(call, *args)
    except Exception as exc:
        log.warning("sign_in_limits_not_shared", error=f"{type(exc).__name__}: {exc}")
        return None


async def login(request: web.Request) -> web.StreamResponse:
    """Limits first (no thread; a limited attempt is answered after REFUSAL_PAUSE), then the
    password check in its own bounded pool, answered 503 at once when that is full: nothing
    a flood sends waits in a line an alarm needs."""
    if not same_origin(request):
        return web.Response(status=403, text="sign in from the Lonewatch page itself")
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    limits = request.app[LIMITS]
    limited = limits.check(request.remote, username, time.monotonic())
    shared = request.app.get(SHARED_LIMITS)
    if limited is None and shared is not None:
        limited = await _shared(request, shared.check, request.remote, username)
    if limited is not None:
        _note(request, f"login_limited_by_{limited.scope}", user=username[:64])
        await asyncio.sleep(REFUSAL_PAUSE)
        return _refused_page(
            429, limited.retry_after, _limited_message(limited), username, next_url
        )
    client = f"{request.remote or '?'} {request.headers.get('User-Agent', '')}".strip()
    limits.checking(request.remote)
    try:
        signed = await request.app[POOLS].passwords.run(
            sessions.sign_in, request.app[LONEWATCH], username, password, client
        )
    except PoolFull as busy:
        limits.turned_away(request.remote, time.monotonic())
        if shared is not None:
            await _shared(request, shared.turned_away, request.remote)
        _note(request, "login_busy", retry_after=busy.retry_after)
        return _refused_page(
            503,
            busy.retry_after,
            f"Lonewatch is busy checking other sign-ins. Try again in "
            f"{_in_words(busy.retry_after)}.",
            username,
            next_url,
        )
    finally:
        limits.checked(request.remote)
    if signed is None:
        limits.failed(request.remote, username, time.monotonic())
        if shared is not None:
            await _shared(request, shared.failed, request.remote, username)
        _note(request, "login_refused", user=username[:64])
        return web.Response(
            status=401,
            text=_login_page("That name and password do not match.", username, next_url),
            content_type="text/html",
        )
    limits.succeeded(request.remote, username)
    if shared is not None:
        await _shared(request, shared.succeeded, request.remote, username)
    request.app[COUNTS]["login"] += 1
    log.info("login", user=signed.principal.username, role=signed.principal.role.value)
    response = web.HTTPSeeOther(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].effective_public_url.startswith("https://"),
        path="/",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = session_token(request)
    if token is not None:
        if not await csrf_ok(request, token):
            return web.Response(status=403, text="sign out from the Lonewatch page itself")
        # The CSRF token derives from the cookie, so a made-up cookie passes: a bounded pool.
        await request.app[POOLS].lookups.run(sessions.sign_out, request.app[LONEWATCH], token)
        request.app[SESSIONS].pop(token, None)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def session_info(request: web.Request) -> web.Response:
    """Who the caller is, and (for a console session) the CSRF token to send back."""
    who = principal(request)
    token = request.get(SESSION)
    school = request.app[VIEWS].get("school", who.school) if who.school else None
    return json_response(
        {
            # Who "accepted" a message, in the feed's words: no texts leave a test notifier.
            "provider": request.app[PROVIDER],
            "username": who.username,
            "role": who.role.value,
            "school": who.school,
            "actor": who.actor,
            # The console tells every time in the school's own zone, as the texts and the
            # printed record do: a browser's zone (UTC on a kiosk) once made them disagree.
            "timezone": timezone_of(school),
            "csrf_token": sessions.csrf_token(token) if token else None,
            # The maps' tiles (LW_MAP_TILES); null draws a plain marker with no tiles.
            "map": _map_tiles(request),
            "may": {
                "watch": can_watch(who),
                "export": can_export(who),
                "audit": can_read_audit(who),
                "users": can_manage_users(who),
            },
        }
    )


def _map_tiles(request: web.Request) -> dict[str, str | None]:
    settings = request.app[SETTINGS]
    return {"tiles": settings.map_tile_url, "attribution": settings.map_attribution}


def add_auth_routes(app: web.Application) -> None:
    app[TOKENS] = PrincipalCache(entries=CACHE_ENTRIES, seconds=TOKEN_CACHE_SECONDS)
    app[SESSIONS] = {}
    app[LIMITS] = SignInLimits()
    app[COUNTS] = Counter()
    app[QUIET] = _Quiet()
    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/api/v1/session", session_info)
