"""Console sign-in: a session cookie for people, CSRF checks on every unsafe request.

Bearer tokens (for other systems) are checked in `api.py`; a request that sends
no Authorization header but has the console's cookie is authenticated here. Every
unsafe method made with a cookie must echo the session's CSRF token in the
`X-CSRF-Token` header (or a `csrf_token` form field): another site can make the
browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from service import sessions
from service.domain.access import Principal
from service.domain.sessions import SESSION_LIFETIME
from service.http.problems import problem
from service.logs import get_logger
from service.wiring import CONTAINER

log = get_logger(__name__)

SESSION_COOKIE = "lw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_SECONDS = 10.0
CACHE_ENTRIES = 5000
FAILURES_ALLOWED = 5
FAILURE_WINDOW = 300.0
STATIC = Path(__file__).parent / "static"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSIONS: web.AppKey[dict[str, tuple[float, Principal | None]]] = web.AppKey("session_cache", dict)
FAILURES: web.AppKey[dict[str, list[float]]] = web.AppKey("login_failures", dict)
SESSION: web.RequestKey[str] = web.RequestKey("console_session", str)


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
        app = request.app[CONTAINER].app
        found = await asyncio.to_thread(sessions.principal_for_session, app, token)
        hit = (time.monotonic() + CACHE_SECONDS, found)
        cache[token] = hit
    return hit[1]


def _same_origin(request: web.Request) -> bool:
    """A browser names the page that sent an unsafe request; it must be ours."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


async def csrf_ok(request: web.Request, token: str) -> bool:
    if request.method in SAFE_METHODS:
        return True
    if not _same_origin(request):
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
    request["principal"] = who
    request[SESSION] = token
    return await handler(request)


# -- sign in and out -------------------------------------------------------------


def _login_page(message: str = "", username: str = "", next_url: str = "") -> str:
    from html import escape

    page = (STATIC / "login.html").read_text(encoding="utf-8")
    error = f'<p class="form-error" role="alert">{escape(message)}</p>' if message else ""
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
    return web.Response(
        text=_login_page(next_url=_safe_next(request.query.get("next", ""))),
        content_type="text/html",
    )


def _throttled(request: web.Request, username: str) -> bool:
    now = time.monotonic()
    failures = request.app[FAILURES]
    if len(failures) >= CACHE_ENTRIES:  # guessed names must not grow it forever
        for name in [
            n for n, times in failures.items() if not times or now - times[-1] > FAILURE_WINDOW
        ]:
            del failures[name]
    recent = [t for t in failures.get(username, []) if now - t < FAILURE_WINDOW]
    if recent:
        failures[username] = recent
    else:
        failures.pop(username, None)
    return len(recent) >= FAILURES_ALLOWED


async def login(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return web.Response(status=403, text="sign in from the Lonewatch page itself")
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    if _throttled(request, username):
        log.warning("login_throttled", user=username)
        return web.Response(
            status=429,
            text=_login_page(
                "Too many wrong passwords for this name. Wait five minutes, or ask an admin.",
                username,
                next_url,
            ),
            content_type="text/html",
        )
    c = request.app[CONTAINER]
    client = f"{request.remote or '?'} {request.headers.get('User-Agent', '')}".strip()
    signed = await asyncio.to_thread(sessions.sign_in, c.app, username, password, client)
    if signed is None:
        request.app[FAILURES].setdefault(username, []).append(time.monotonic())
        log.warning("login_refused", user=username, remote=request.remote)
        return web.Response(
            status=401,
            text=_login_page("That name and password do not match.", username, next_url),
            content_type="text/html",
        )
    request.app[FAILURES].pop(username, None)
    log.info("login", user=signed.principal.username, role=signed.principal.role.value)
    response = web.HTTPSeeOther(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="Lax",
        secure=c.settings.effective_public_url.startswith("https://"),
        path="/",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = session_token(request)
    if token is not None:
        if not await csrf_ok(request, token):
            return web.Response(status=403, text="sign out from the Lonewatch page itself")
        await asyncio.to_thread(sessions.sign_out, request.app[CONTAINER].app, token)
        request.app[SESSIONS].pop(token, None)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def session_info(request: web.Request) -> web.Response:
    """Who the caller is, and (for a console session) the CSRF token to send back."""
    from service.domain.records import can_export, can_read_audit, can_watch
    from service.http.api import json_response, principal
    from service.notifiers.twilio_notifier import TwilioNotifier

    who = principal(request)
    token = request.get(SESSION)
    notifier = request.app[CONTAINER].notifier
    return json_response(
        {
            # Who "accepted" a message, in the feed's words: no texts leave a test notifier.
            "provider": "Twilio" if isinstance(notifier, TwilioNotifier) else "the test notifier",
            "username": who.username,
            "role": who.role.value,
            "school": who.school,
            "actor": who.actor,
            "csrf_token": sessions.csrf_token(token) if token else None,
            "may": {
                "watch": can_watch(who),
                "export": can_export(who),
                "audit": can_read_audit(who),
            },
        }
    )


def add_auth_routes(app: web.Application) -> None:
    app[SESSIONS] = {}
    app[FAILURES] = {}
    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/api/v1/session", session_info)
