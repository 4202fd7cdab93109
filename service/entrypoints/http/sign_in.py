"""Signing in and out of the console, and `GET /api/v1/session` (who the caller is, and the
CSRF token a console session sends back).

A sign-in is limited before its password is checked (service/domain/people/sign_in_limits.py,
and across processes service/adapters/sign_in_failures.py); a limited attempt is answered
after a pause, and a refusal is logged once per kind every LOG_EVERY seconds, so a flood
neither waits in a line an alarm needs nor becomes a flood of log lines. Who is calling on
each request is service/entrypoints/http/auth.py's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from service.adapters.sign_in_failures import SignInFailures
from service.application import sessions
from service.domain.people.accounts import can_manage_users
from service.domain.people.directory import timezone_of
from service.domain.people.record_access import can_export, can_read_audit, can_watch
from service.domain.people.sessions import SESSION_LIFETIME
from service.domain.people.sign_in_limits import Limited, SignInLimits
from service.entrypoints.http.auth import (
    SESSION_COOKIE,
    SESSIONS,
    add_principal_caches,
    csrf_ok,
    same_origin,
    session_principal,
    session_token,
)
from service.entrypoints.http.keys import LONEWATCH, POOLS, PROVIDER, SETTINGS, VIEWS
from service.entrypoints.http.requests import SESSION, json_response, principal
from service.logs import get_logger
from service.workers.pools import PoolFull

log = get_logger(__name__)
T = TypeVar("T")

LOG_EVERY = 10.0  # seconds between two log lines of one kind of refusal in a flood
# A limited attempt is answered after a pause: a person waits a second once, a flood of
# clients that send the next attempt as soon as answered slows to one a second each. Only
# a coroutine waits (no thread, no place in any pool).
REFUSAL_PAUSE = 1.0
STATIC = Path(__file__).parent / "static"
"""The console's pages, scripts and styles (served by service/entrypoints/http/console.py)."""

LIMITS: web.AppKey[SignInLimits] = web.AppKey("sign_in_limits", SignInLimits)
SHARED_LIMITS: web.AppKey[SignInFailures | None] = web.AppKey("sign_in_failures")
"""Every process's failed sign-ins (PostgreSQL), when several processes share the store."""
COUNTS: web.AppKey[Counter[str]] = web.AppKey("sign_in_counts", Counter)


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


def add_sign_in_routes(app: web.Application) -> None:
    """Sign-in and out, the session's endpoint, and the caches `authenticate` reads."""
    add_principal_caches(app)
    app[LIMITS] = SignInLimits()
    app[COUNTS] = Counter()
    app[QUIET] = _Quiet()
    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/api/v1/session", session_info)
