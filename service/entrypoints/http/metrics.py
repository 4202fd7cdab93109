"""GET /metrics: Prometheus's text format (service/workers/metrics.py says what is in it).

Who may scrape: anyone on the machine itself (loopback, where a Prometheus beside the
service or an SSH tunnel comes from), and from elsewhere only with an API bearer token
(`lonewatch token create`), as the API asks. The figures name parts, never people, but
they show how busy a trust's alarms are: not for anyone on the network. Behind a reverse
proxy on the same machine every request looks local, so the proxy must not forward
/metrics unauthenticated (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from service.entrypoints.http.keys import LONEWATCH, METRICS, POOLS
from service.entrypoints.http.problems import problem
from service.workers.metrics import CONTENT_TYPE


def is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a unix socket's peer, or a name: not known to be local


async def allowed(request: web.Request) -> bool:
    if is_loopback(request.remote):
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    lookups = request.app[POOLS].lookups  # made-up tokens wait in their own bounded pool
    return await lookups.run(request.app[LONEWATCH].principal_for_token, token.strip()) is not None


async def metrics(request: web.Request) -> web.StreamResponse:
    if not await allowed(request):
        response = problem(
            401,
            "Unauthorised",
            "/metrics answers the machine itself; from elsewhere send "
            "'Authorization: Bearer <token>' (create one with 'lonewatch token create --user USER')",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="lonewatch"'
        return response
    body = await request.app[METRICS].render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_metrics_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
