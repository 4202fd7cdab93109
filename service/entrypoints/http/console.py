"""The browser console: plain HTML, CSS and JS files served by the service itself.

Pages need a console session (else they send you to sign in); what each shows
comes from the JSON API under the same session, so the API's rules are the
console's rules. No build step: edit a file under static/ and reload.
"""

from __future__ import annotations

from aiohttp import web

from service.entrypoints.http.auth import Handler, session_principal
from service.entrypoints.http.keys import SETTINGS
from service.entrypoints.http.records import add_record_routes
from service.entrypoints.http.sign_in import STATIC, add_sign_in_routes

PAGES = {
    "/console/": "feed.html",
    "/console/visits": "visits.html",
    "/console/devices": "devices.html",
    "/console/timeline": "timeline.html",
    "/console/audit": "audit.html",
    "/console/history": "history.html",
    "/console/reports": "reports.html",
    "/console/policy": "policy.html",
    "/console/admin": "admin.html",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def content_security_policy(tile_source: str | None) -> str:
    """Scripts and styles only from the service; images also from the map's tile host
    (LW_MAP_TILES), the one thing a console page loads from elsewhere."""
    images = " ".join(filter(None, ("'self' data:", tile_source)))
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/console/") and not response.prepared:
        tiles = request.app[SETTINGS].map_tile_source
        response.headers.setdefault("Content-Security-Policy", content_security_policy(tiles))
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


async def page(request: web.Request) -> web.StreamResponse:
    if await session_principal(request) is None:
        raise web.HTTPSeeOther(f"/console/login?next={request.path_qs}")
    return web.FileResponse(STATIC / PAGES[request.path])


async def home(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


def add_console_routes(app: web.Application) -> None:
    add_sign_in_routes(app)
    add_record_routes(app)
    app.middlewares.append(security_headers)
    app.router.add_get("/", home)
    app.router.add_get("/console", home)
    for path in PAGES:
        app.router.add_get(path, page)
    app.router.add_static("/console/static/", STATIC, append_version=False)
