"""Looking back: past alerts and visits searched by person, dates, kind, state and outcome.

`GET /api/v1/alerts/history` is for those who watch the alert feed; `GET /api/v1/visits/history`
follows the visit board's rule (staff see only their own visits). Both read the views a page
at a time (projections/search.py): the filters run in SQL, newest first, `limit` at most
200, `next_offset` set when another page follows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from projections.search import Search
from service.application.visits import can_see_visit
from service.domain.alerts.alert import OPEN_ALERT_STATES, AlertKind, AlertState, Outcome
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.people.record_access import can_watch
from service.domain.visits.rules import ReportOutcome
from service.domain.visits.states import OUT, VisitState
from service.entrypoints.http.confidential import audited_list
from service.entrypoints.http.keys import VIEWS
from service.entrypoints.http.people import with_people
from service.entrypoints.http.problems import BadRequest
from service.entrypoints.http.requests import json_response, principal, schools_for

MAX_LIMIT = 200
MAX_OFFSET = 100_000
ALERT_STATES = {"open": list(OPEN_ALERT_STATES), **{s.value: [s.value] for s in AlertState}}
VISIT_STATES = {"out": [s.value for s in OUT], **{s.value: [s.value] for s in VisitState}}


def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise BadRequest(f"{name} must be one of: {', '.join(allowed)}; got {value!r}")
    return value


def _count(request: web.Request, name: str, default: int, highest: int, lowest: int) -> int:
    text = request.query.get(name) or str(default)
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise BadRequest(f"{name} must be a whole number from {lowest} to {highest}; got {text!r}")
    return int(text)


def _day(request: web.Request, name: str) -> date | None:
    text = request.query.get(name) or None
    if text is None:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _stamp(request: web.Request, name: str, *, end: bool) -> str | None:
    """A bound on when an alert was raised, as the views write it (UTC ISO text): a date is
    that whole UTC day (`to` takes the day in); an instant is taken as given."""
    text = request.query.get(name) or None
    if text is None:
        return None
    day = _day(request, name)
    if day is not None:
        start = datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        return start.isoformat()
    try:  # an unencoded '+00:00' arrives as ' 00:00': read it as the offset it was meant to be
        found = datetime.fromisoformat(text.replace(" ", "+"))
    except ValueError:
        found = None
    if found is None or found.tzinfo is None:
        raise BadRequest(
            f"{name} must be a date like 2026-11-23 or an instant with its zone like "
            f"2026-11-23T14:03:00Z; got {text!r}"
        )
    return found.astimezone(UTC).isoformat()


def _visit_day(request: web.Request, name: str, *, end: bool) -> str | None:
    text = request.query.get(name) or None
    if text is None:
        return None
    day = _day(request, name)
    if day is None:
        raise BadRequest(f"{name} must be a date like 2026-11-23 (the visit's day); got {text!r}")
    return (day + timedelta(days=1 if end else 0)).isoformat()


def _ordered(since: str | None, until: str | None) -> None:
    if since is not None and until is not None and since >= until:
        raise BadRequest("from must be before to")


def _person(request: web.Request) -> str | None:
    text = (request.query.get("staff") or "").strip()
    if len(text) > 100:
        raise BadRequest("staff must be a staff id or part of a name, at most 100 characters")
    return text or None


def _page(request: web.Request) -> tuple[int, int]:
    return _count(request, "limit", 50, MAX_LIMIT, 1), _count(request, "offset", 0, MAX_OFFSET, 0)


def _answer(
    name: str, items: list[dict[str, Any]], more: bool, limit: int, offset: int
) -> web.Response:
    return json_response(
        {
            name: items,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if more else None,
        }
    )


def alert_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """A past alert as a row: who, what, when, who took it and how it ended."""
    raised = datetime.fromisoformat(doc["raised_at"])
    taken = doc.get("acknowledged_at")
    return {
        key: doc.get(key)
        for key in (
            "id",
            "short_code",
            "kind",
            "severity",
            "state",
            "school",
            "school_name",
            "staff",
            "staff_name",
            "device",
            "visit",
            "raised_at",
            "acknowledged_by",
            "acknowledged_at",
            "outcome",
            "note",
            "resolved_by",
            "resolved_at",
        )
    } | {
        "answered_in_s": (
            round((datetime.fromisoformat(taken) - raised).total_seconds(), 1) if taken else None
        ),
        "people_told": len({n.get("contact") for n in (doc.get("notifications") or {}).values()}),
    }


async def alert_history(request: web.Request) -> web.Response:
    who = principal(request)
    if not can_watch(who):
        raise web.HTTPForbidden(
            text=f"a {who.role.value} cannot search past alerts; staff see their own visits"
        )
    kind = _choice(request, "kind", [k.value for k in AlertKind])
    outcome = _choice(request, "outcome", [o.value for o in Outcome])
    state = _choice(request, "state", list(ALERT_STATES))
    since, until = _stamp(request, "from", end=False), _stamp(request, "to", end=True)
    _ordered(since, until)
    limit, offset = _page(request)
    equals = {k: v for k, v in (("kind", kind), ("outcome", outcome)) if v is not None}
    search = Search(
        "alert",
        schools=schools_for(request),
        states=ALERT_STATES[state] if state else None,
        equals=equals,
        person=_person(request),
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    docs, more = await asyncio.to_thread(request.app[VIEWS].search, search)
    await audited_list(request, principal(request), len(docs))
    return _answer("alerts", [with_people(alert_summary(d)) for d in docs], more, limit, offset)


def ladder_reached(doc: dict[str, Any]) -> dict[str, Any] | None:
    """How far the overdue ladder went on a visit: None if it never went overdue."""
    if not doc.get("overdue_since"):
        return None
    ended = doc.get("ladder_ended")
    steps = doc.get("ladder_steps") or []
    if doc.get("overdue") or not ended:
        taken = doc.get("steps_taken") or []
        return {
            "steps_taken": len(taken),
            "of": len(steps) or None,
            "last": steps[max(taken)]["do"] if taken and len(steps) > max(taken) else None,
            "ended": None,
        }
    return {"steps_taken": ended.get("steps_taken"), "of": None, "last": None, "ended": ended}


def visit_summary(doc: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "ref",
        "school",
        "school_name",
        "staff",
        "staff_names",
        "date",
        "planned_start",
        "expected_return",
        "departed_at",
        "returned_at",
        "state",
        "outcome",
        "safeguarding_concern",
        "overdue_since",
    )
    return {key: doc.get(key) for key in keys} | {"ladder": ladder_reached(doc)}


def _own_visits(who: Principal) -> dict[str, str]:
    """Staff search only their own visits (the board's rule), in SQL as well as after."""
    return {"staff": who.username} if who.role is Role.STAFF else {}


async def visit_history(request: web.Request) -> web.Response:
    who = principal(request)
    state = _choice(request, "state", list(VISIT_STATES))
    outcome = _choice(request, "outcome", [o.value for o in ReportOutcome])
    overdue = _choice(request, "overdue", ["true"])
    since, until = _visit_day(request, "from", end=False), _visit_day(request, "to", end=True)
    _ordered(since, until)
    limit, offset = _page(request)
    search = Search(
        "visit",
        schools=schools_for(request),
        states=VISIT_STATES[state] if state else None,
        equals={"outcome": outcome} if outcome else {},
        holds=_own_visits(who),
        present=("overdue_since",) if overdue == "true" else (),
        person=_person(request),
        name_field="staff_names",
        order_by="planned_start",
        range_field="date",
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    docs, more = await asyncio.to_thread(request.app[VIEWS].search, search)
    shown = [d for d in docs if can_see_visit(who, d["school"], d["staff"])]
    await audited_list(request, who, len(shown))
    return _answer("visits", [with_people(visit_summary(d)) for d in shown], more, limit, offset)


def add_history_routes(app: web.Application) -> None:
    """Before the alert and visit routes: `/alerts/{id}` would take `history` as an id."""
    app.router.add_get("/api/v1/alerts/history", alert_history)
    app.router.add_get("/api/v1/visits/history", visit_history)
