"""GET /api/v1/openapi.json (INTERFACES.md section 4): the OpenAPI 3.1 description of the API,
generated from the routes the app really has.

Why this shape: aiohttp-pydantic (the maintained route-to-OpenAPI library for aiohttp)
needs every handler rewritten as a class-based view, and its 3.x needs Python 3.12;
aiohttp-apispec and aiohttp-swagger are unmaintained; aiohttp-apigami brings marshmallow
beside pydantic. So: `apispec` (marshmallow-code, maintained) assembles the document,
pydantic gives the bodies' JSON Schemas (openapi_models.py), and the paths come from
walking `app.router`. Each route under /api/v1 needs an entry in OPERATIONS
(openapi_operations.py); tests/integration/test_api_bounds.py fails on a route without
one (or an entry without a route), so the description cannot drift from the routes;
schemathesis then holds the running service to it (tests/e2e/test_api_contract.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from apispec import APISpec

from service.entrypoints.http import openapi_models as models
from service.entrypoints.http.openapi_operations import OPERATIONS, PATH, Operation

TITLE = "Lonewatch API"
VERSION = "1"

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route under /api/, HEAD (aiohttp's twin of GET) left out."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/") and route.method not in {"HEAD", "*"}:
            found.add((route.method, path))
    return found


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(op.ok): {"description": "done", "content": {op.ok_type: {"schema": {}}}},
        "default": {
            "description": "an error: what went wrong and what to fix",
            "content": _PROBLEM,
        },
    }
    doc: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "responses": responses}
    if op.parameters:
        doc["parameters"] = op.parameters
    if op.public:
        doc["security"] = []
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
            },
        }
    return doc


def _schemas() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in {op.body for op in OPERATIONS.values() if op.body} | {models.Problem}:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def build_spec(app: web.Application) -> dict[str, Any]:
    """The document for the routes `app` has; a route without an entry is named, not hidden."""
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        info={
            "description": "Lonewatch's JSON API (docs/console-and-replay.md, docs/visits.md). Errors are "
            "application/problem+json; a 429 or 503 says when to try again (Retry-After)."
        },
        servers=[{"url": "/"}],
        security=[{"bearer": []}, {"console": []}],
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "lonewatch token create"}
    )
    spec.components.security_scheme(
        "console", {"type": "apiKey", "in": "cookie", "name": "lw_session"}
    )
    for name, schema in sorted(_schemas().items()):
        spec.components.schema(name, schema)
    by_path: dict[str, dict[str, Any]] = {}
    for method, path in sorted(api_routes(app)):
        op = OPERATIONS.get((method, path))
        if op is None:
            raise LookupError(f"{method} {path} has no entry in openapi_operations.OPERATIONS")
        by_path.setdefault(path, {})[method.lower()] = _operation(op)
    for path, operations in by_path.items():
        spec.path(path, operations=operations)
    return spec.to_dict()


SPEC: web.AppKey[dict[str, Any]] = web.AppKey("openapi_spec", dict)


async def openapi_json(request: web.Request) -> web.Response:
    cached = request.app[SPEC]
    if not cached:  # built on first asking: by then every route is in the router
        cached.update(build_spec(request.app))
    return web.json_response(cached)


def add_openapi_route(app: web.Application) -> None:
    app[SPEC] = {}
    app.router.add_get(PATH, openapi_json)
