"""Who a visit can be planned for: the staff of the schools the caller may plan in, with each
school's time zone, so the console's "Plan a visit" form offers real visitors and reads its
times in the school's own clock. Read-only, from the views; planning itself is POST
/api/v1/visits, whose rules (service/application/visits.plan_visit) stay the only check."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from projections.store import ViewStore
from service.domain.people.access import Principal, can_see_school
from service.domain.people.directory import Role, timezone_of
from service.entrypoints.http.keys import VIEWS
from service.entrypoints.http.problems import problem
from service.entrypoints.http.requests import json_response, principal


def _schools(views: ViewStore, who: Principal) -> list[dict[str, Any]]:
    docs = (
        views.find("school")
        if can_see_school(who, "*")
        else [d for d in [views.get("school", who.school or "")] if d]
    )
    return sorted(
        (
            {"id": d["id"], "name": d.get("name") or d["id"], "timezone": timezone_of(d)}
            for d in docs
        ),
        key=lambda s: s["name"],
    )


def _staff(views: ViewStore, schools: list[str]) -> list[dict[str, Any]]:
    docs = views.find("staff", schools=schools, limit=5000)
    return sorted(
        ({"id": d["id"], "name": d.get("name") or d["id"], "school": d["school"]} for d in docs),
        key=lambda s: (s["school"], s["name"]),
    )


async def list_staff(request: web.Request) -> web.Response:
    """GET /api/v1/staff: the visitors a visit may be planned for (the planners' schools)."""
    who = principal(request)
    if who.role is not Role.ADMIN and not who.school:
        return problem(403, "Forbidden", f"a {who.role.value} of no school cannot plan visits")
    views = request.app[VIEWS]
    schools = await asyncio.to_thread(_schools, views, who)
    staff = await asyncio.to_thread(_staff, views, [s["id"] for s in schools])
    return json_response({"schools": schools, "staff": staff})


def add_planning_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/staff", list_staff)
