"""GET /api/v1/health: 200 "ok" only when every part of the alarm path works, otherwise
503 "degraded" with the reasons (service/workers/health.py; docs/operations.md). Open to anyone,
as it always was: it names parts, never people or devices."""

from __future__ import annotations

from aiohttp import web

from projections.doc_text import dumps
from service.entrypoints.http.keys import HEALTH


async def health(request: web.Request) -> web.Response:
    ok, body = await request.app[HEALTH].check()
    return web.Response(
        text=dumps(body), status=200 if ok else 503, content_type="application/json"
    )


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/health", health)
