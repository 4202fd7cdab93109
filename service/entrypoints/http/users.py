"""Users managed in the console by an admin (service/application/users.py), and the page
where an invited or reset user chooses their password with the one-time link.

Every change counts at once in this process: the user's cached sessions and tokens are
forgotten (`auth.forget_user`), so the next request reads the user as they now stand.
"""

from __future__ import annotations

import asyncio
import time
from functools import cache
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web
from argon2 import PasswordHasher

from service.application import users
from service.domain.errors import DomainError
from service.domain.people.directory import Role
from service.entrypoints.http.auth import forget_user, same_origin
from service.entrypoints.http.keys import LONEWATCH, POOLS, VIEWS
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import json_body, json_response, principal
from service.entrypoints.http.sign_in import LIMITS, STATIC
from service.workers.pools import PoolFull


def _text(body: dict[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"send '{name}': {what}")
    return value.strip()


def _school(body: dict[str, Any]) -> str | None:
    value = body.get("school")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest("'school' is a school's id (or null for an admin of every school)")
    return value.strip()


def _phone(body: dict[str, Any]) -> str | None:
    value = body.get("phone")
    if value is not None and not isinstance(value, str):
        raise BadRequest("'phone' is a mobile in international form like +447700900001, or null")
    return value


def _link(link: users.PasswordLink) -> dict[str, Any]:
    return {"username": link.username, "link": link.path, "expires_at": link.expires_at}


async def list_users(request: web.Request) -> web.Response:
    """GET /api/v1/users: every user, and the schools and roles a user may be given."""
    found = await asyncio.to_thread(users.list_users, request.app[LONEWATCH], principal(request))
    schools = await asyncio.to_thread(request.app[VIEWS].find, "school", limit=10_000)
    return json_response(
        {
            "users": [u.as_dict() for u in found],
            "schools": sorted(
                ({"id": s["id"], "name": s.get("name") or s["id"]} for s in schools),
                key=lambda s: str(s["name"]),
            ),
            "roles": [r.value for r in Role],
        }
    )


async def invite(request: web.Request) -> web.Response:
    """POST /api/v1/users {"username", "role", "school", "phone"}: the user, and their
    one-time link."""
    body = await json_body(request)
    username = _text(body, "username", "the new user's sign-in name, e.g. a.lead")
    link = await asyncio.to_thread(
        users.invite,
        request.app[LONEWATCH],
        principal(request),
        username,
        body.get("role"),
        _school(body),
        _phone(body),
    )
    return json_response(_link(link), status=201)


async def change_role(request: web.Request) -> web.Response:
    """POST /api/v1/users/{username}/role {"role", "school"}"""
    body = await json_body(request)
    username = request.match_info["username"]
    info = await asyncio.to_thread(
        users.change_role,
        request.app[LONEWATCH],
        principal(request),
        username,
        body.get("role"),
        _school(body),
    )
    forget_user(request.app, username)
    return json_response(info.as_dict())


async def set_phone(request: web.Request) -> web.Response:
    """POST /api/v1/users/{username}/phone {"phone"}: their mobile, or null for none."""
    body = await json_body(request)
    info = await asyncio.to_thread(
        users.set_phone,
        request.app[LONEWATCH],
        principal(request),
        request.match_info["username"],
        _phone(body),
    )
    return json_response(info.as_dict())


async def reset_password(request: web.Request) -> web.Response:
    """POST /api/v1/users/{username}/reset-password: the old password and sessions end now."""
    username = request.match_info["username"]
    link = await asyncio.to_thread(
        users.reset_password, request.app[LONEWATCH], principal(request), username
    )
    forget_user(request.app, username)
    return json_response(_link(link))


async def disable(request: web.Request) -> web.Response:
    """POST /api/v1/users/{username}/disable {"reason"}"""
    body = await json_body(request) if request.body_exists else {}
    reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
    return await _set_disabled(request, True, str(reason or ""))


async def enable(request: web.Request) -> web.Response:
    """POST /api/v1/users/{username}/enable"""
    return await _set_disabled(request, False, "")


async def _set_disabled(request: web.Request, disabled: bool, reason: str) -> web.Response:
    username = request.match_info["username"]
    info = await asyncio.to_thread(
        users.set_disabled,
        request.app[LONEWATCH],
        principal(request),
        username,
        disabled,
        reason,
    )
    forget_user(request.app, username)
    return json_response(info.as_dict())


# -- choosing a password with the one-time link ------------------------------------------


@cache
def _welcome_template() -> str:
    return (STATIC / "welcome.html").read_text(encoding="utf-8")


def _welcome_page(username: str, code: str, message: str = "", status: int = 200) -> web.Response:
    error = f'<p class="form-error" role="alert">{escape(message)}</p>' if message else ""
    page = (
        _welcome_template()
        .replace("<!--error-->", error)
        .replace("{{username}}", escape(username, quote=True))
        .replace("{{code}}", escape(code, quote=True))
    )
    return web.Response(text=page, status=status, content_type="text/html")


async def welcome_form(request: web.Request) -> web.StreamResponse:
    """GET /console/welcome?user=&code=: the page the one-time link opens."""
    return _welcome_page(request.query.get("user", "")[:64], request.query.get("code", "")[:100])


async def welcome(request: web.Request) -> web.StreamResponse:
    """POST /console/welcome: the link's owner chooses a password, then signs in."""
    if not same_origin(request):
        return web.Response(status=403, text="choose a password from the Lonewatch page itself")
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    code = str(form.get("code", ""))[:100]
    password = str(form.get("password", ""))
    again = str(form.get("again", ""))
    limits = request.app[LIMITS]
    if limits.check(request.remote, username, time.monotonic()) is not None:
        return _welcome_page(
            username, code, "Too many tries from this computer. Wait a minute.", 429
        )
    app = request.app[LONEWATCH]
    try:
        if password != again:
            raise DomainError("the two passwords differ: type the same one twice")
        users.checked_password(password)
        await asyncio.to_thread(users.check_password_link, app, username, code)
    except DomainError as refused:
        if str(refused) == users.LINK_REFUSED:
            limits.failed(request.remote, username, time.monotonic())
        return _welcome_page(username, code, str(refused), 422)
    try:
        hashed = await request.app[POOLS].passwords.run(PasswordHasher().hash, password)
    except PoolFull as busy:
        return _welcome_page(
            username, code, f"Lonewatch is busy. Try again in {busy.retry_after} s.", 503
        )
    try:
        await asyncio.to_thread(users.set_password_with_link, app, username, code, hashed)
    except DomainError as refused:
        return _welcome_page(username, code, str(refused), 422)
    forget_user(request.app, username)
    raise web.HTTPSeeOther(f"/console/login?welcome=1&user={quote(username)}")


def add_user_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/users", list_users)
    app.router.add_post("/api/v1/users", invite)
    app.router.add_post("/api/v1/users/{username}/role", change_role)
    app.router.add_post("/api/v1/users/{username}/phone", set_phone)
    app.router.add_post("/api/v1/users/{username}/reset-password", reset_password)
    app.router.add_post("/api/v1/users/{username}/disable", disable)
    app.router.add_post("/api/v1/users/{username}/enable", enable)
    app.router.add_get("/console/welcome", welcome_form)
    app.router.add_post("/console/welcome", welcome)
