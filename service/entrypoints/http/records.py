"""The DSL's side of the API: timelines with their integrity verdict, states as of an instant,
incident exports, and the audit trail of who looked at which record.

Every timeline, state-as-of and export served to a person is recorded before it is sent;
a timeline's verdict alone (no row, no state) is not a viewing and is not recorded.
Rebuilding and rendering records runs in the exports pool (bounded; a full pool answers
503 with Retry-After), never on the executor the alarm path's store calls use.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web

from projections.collector import collector_paused
from projections.doc_text import dumps, dumps_holding
from projections.store import ViewStore
from service.application.visits import can_see_visit
from service.domain.errors import NotFound
from service.domain.people.access import Principal, can_see_school
from service.domain.people.confidentiality import WITHHELD
from service.domain.people.directory import timezone_of
from service.domain.people.naming import ROLE_WORDS
from service.domain.people.record_access import Access, can_export, can_read_audit, can_watch
from service.entrypoints.http.confidential import shown, withheld_words
from service.entrypoints.http.keys import CLOCK, LONEWATCH, POOLS, PROOF, VIEWS
from service.entrypoints.http.problems import BadRequest, problem
from service.entrypoints.http.requests import instant, principal
from service.logs import get_logger
from service.records.as_it_stood import as_it_stood
from service.records.audit import audit_trail, record_viewing
from service.records.export import render_html
from service.records.pages import record_page
from service.records.record_cache import cache_of
from service.records.record_shape import Page
from service.records.replay import incident_record, subject_school
from service.records.subject_states import state_as_of
from service.records.verdicts import record_verdict
from service.records.whole_checks import HELD_SECONDS, checks_of, close_checks

log = get_logger(__name__)

SUBJECT_KINDS = ("alert", "visit", "device", "staff")
PAGE = 500
"""Rows of a timeline in one answer unless more are asked for: what a reader scrolls through
before asking for more, and a small part of a 10,000-event record's cost to word and send."""
MAX_PAGE = 10_000
EXPORT_REFUSED = (
    "The printable record is a safeguarding record: it holds what the visitor wrote and the "
    "pupil's reference, so only the DSL, the headteacher or an admin may print or export it "
    "(your role: {who}). Ask your DSL if the record is needed. The alert itself (who, where, "
    "who has been told) is on the feed."
)


def refusal(who: Principal, allowed: bool, what: str) -> web.Response | None:
    """A 403 that names the role and what it cannot do; None when allowed."""
    if allowed:
        return None
    role = who.role.value
    article = "an" if role[0] in "aeiou" else "a"
    return problem(403, "Forbidden", f"{article} {role} cannot {what}")


class Subject(NamedTuple):
    """The subject a request names, with its school (looked up once: for an alert it is
    read from the event store, and the handlers need it three times)."""

    kind: str
    key: str
    school: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.key}"


async def subject_of(request: web.Request) -> Subject:
    """The one subject named in the query, checked to exist and to be the caller's to see."""
    named = [k for k in SUBJECT_KINDS if k in request.query]
    if len(named) != 1:
        raise BadRequest("give exactly one of alert=ID, visit=ID, device=ID or staff=ID")
    kind = named[0]
    key = request.query[kind]
    if kind in ("alert", "visit"):
        try:
            key = str(UUID(key))
        except ValueError:
            raise BadRequest(f"{kind} must be a UUID like 3f9a2c1e-..., got {key!r}") from None
    app, views = request.app[LONEWATCH], request.app[VIEWS]
    school = await asyncio.to_thread(subject_school, app, views, f"{kind}:{key}")
    if school is None or not can_see_school(principal(request), school):
        raise NotFound(f"{kind} not found")
    if kind == "visit":
        visit = await asyncio.to_thread(views.get, "visit", key) or {}
        if not can_see_visit(principal(request), school, list(visit.get("staff") or [])):
            raise NotFound("visit not found")
    return Subject(kind, key, school)


async def _record(
    request: web.Request,
    who: Principal,
    subject: str,
    access: Access,
    detail: str = "",
    school: str | None = None,
) -> str:
    """Every viewing of a safeguarding record is recorded before it is sent (`school`:
    the subject's, when the caller has looked it up already)."""
    app, views = request.app[LONEWATCH], request.app[VIEWS]
    if school is None:
        school = await asyncio.to_thread(subject_school, app, views, subject)
    return await asyncio.to_thread(record_viewing, app, who, subject, school, access, detail)


T = TypeVar("T")


def _started(call: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """`asyncio.to_thread(call, *args)` submitted now: a task would start it only at the
    loop's next turn, after the synchronous work it is meant to overlap."""
    run = contextvars.copy_context().run
    return asyncio.get_running_loop().run_in_executor(None, partial(run, call, *args))


def timeline_refusal(who: Principal) -> web.Response | None:
    """Who may read a timeline: the one rule for a timeline's pages and for its verdict
    alone (a person who may not read the record may not learn its verdict either)."""
    return refusal(who, can_watch(who), "read timelines")


async def get_timeline(request: web.Request) -> web.Response:
    who = principal(request)
    if (refused := timeline_refusal(who)) is not None:
        return refused
    # What was asked is checked before anything is looked up: a bad instant is a 400
    # whether or not the subject exists (or its view has caught up yet).
    as_of = instant(request.query.get("as_of") or request.query.get("to"), "to")
    since = instant(request.query.get("from"), "from")
    page = _page(request, since)
    named = await subject_of(request)
    app, views = request.app[LONEWATCH], request.app[VIEWS]
    zone = ZoneInfo(await asyncio.to_thread(_school_timezone, views, named.school))
    try:
        return await _timeline(request, who, named, as_of, page, zone)
    finally:
        # A whole check this page handed over starts once the page is written, not while
        # it is worded, encoded and sent by the same interpreter (docs/performance.md, asof3).
        checks_of(app).release(named.name)


async def _timeline(
    request: web.Request,
    who: Principal,
    named: Subject,
    as_of: datetime | None,
    page: Page,
    zone: ZoneInfo,
) -> web.Response:
    """The timeline's page, written out (see `get_timeline`)."""
    subject = named.name
    app, views, exports = request.app[LONEWATCH], request.app[VIEWS], request.app[POOLS].exports
    record = await exports.run(
        record_page,
        app,
        views,
        subject,
        as_of=as_of,
        merkle=request.app[PROOF].merkle,
        zone=zone,
        page=page,
        cache=cache_of(app),
        checks=checks_of(app),
        held=HELD_SECONDS,
    )
    # The viewing recorded (a write and its commit, in a thread: ~4 ms of wall) and the
    # visit the record is tied to read while the rows are put in words here (~2-4 ms of
    # the loop's CPU for 500 rows): both once the page is made, both before it is sent.
    access = _started(
        record_viewing, app, who, subject, named.school, Access.TIMELINE, request.query_string
    )
    tied_read = _started(tied_visit, views, named)
    try:
        record["limit"] = page.limit
        for row in record["events"]:  # before `shown`: the words are withheld as fields are
            row["as_it_stood"] = as_it_stood(row["state_after"], zone)
        record["timezone"] = zone.key
    finally:
        await asyncio.gather(access, tied_read, return_exceptions=True)
    record["access_id"] = access.result()
    # Every record may name a pupil or hold a visitor's words: the visit records' rule.
    tied = tied_read.result()
    record = shown(who, tied, record)
    text = dumps(_times_told(record))
    if (words := withheld_words(who, tied)) is not None and WITHHELD in text:
        record["withheld"] = words  # said only where something was: a gap is not a fault
        text = dumps(record)
    response = web.Response(text=text, content_type="application/json")
    await response.prepare(request)
    await response.write_eof()
    return response


def _times_told(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with its own times (the instant, each row's recorded time, when it was
    checked) as the text `dumps` would write for them (`isoformat`). A UTC datetime is
    `...Z` to msgspec, so a page holding one went `dumps`' slower way, the standard
    library's (6.8 ms against 0.7 for a 500-row page, on the loop): told here, the page
    reads back the same either way (docs/performance.md, asof4). A time elsewhere in a
    row's data still sends it the standard library's way, as before."""
    for owner, key in (
        (record, "as_of"),
        (record.get("integrity") or {}, "checked_at"),
        *((row, "recorded_at") for row in record.get("events") or ()),
    ):
        value = owner.get(key)
        if isinstance(value, datetime):
            owner[key] = value.isoformat()
    return record


def tied_visit(views: ViewStore, named: Subject) -> dict[str, Any]:
    """The visit whose confidentiality rule a record follows: the visit itself; the visit an
    alert was raised on (its cause names it); otherwise only who the record is about (an
    alert on no visit, a person), whose own words they may read: nobody for a device."""
    if named.kind == "visit":
        return views.get("visit", named.key) or {"staff": []}
    if named.kind == "staff":
        return {"staff": [named.key]}
    alert = views.get("alert", named.key) if named.kind == "alert" else None
    if alert is None:
        return {"staff": []}
    visit_id = (alert.get("cause") or {}).get("visit") or (alert.get("visit") or {}).get("id")
    visit = views.get("visit", str(visit_id)) if visit_id else None
    return visit or {"staff": [alert["staff"]] if alert.get("staff") else []}


async def get_timeline_verdict(request: web.Request) -> web.Response:
    """GET /api/v1/timeline/verdict?alert=ID: the whole record's integrity verdict alone
    (service/records/verdicts.py), what the console asks every second while a long record's
    first page says "checking". It shows no row, no state and nothing about a person, so it
    is not a viewing and not recorded: the audit trail says who opened a record (the page),
    not how often a browser asked whether its check was done. Who may ask, and about which
    subject, is the timeline's own rule (`timeline_refusal`, `subject_of`)."""
    who = principal(request)
    if (refused := timeline_refusal(who)) is not None:
        return refused
    cut = [name for name in ("as_of", "to", "from") if name in request.query]
    if cut:
        raise BadRequest(f"the verdict is on the whole record as it stands: drop {cut[0]}")
    named = await subject_of(request)
    app, views = request.app[LONEWATCH], request.app[VIEWS]
    verdict = await request.app[POOLS].exports.run(
        record_verdict,
        app,
        views,
        named.name,
        merkle=request.app[PROOF].merkle,
        cache=cache_of(app),
        checks=checks_of(app),
    )
    return web.Response(text=dumps(verdict), content_type="application/json")


async def alert_as_of(request: web.Request, alert_id: UUID, as_of: datetime) -> web.Response:
    """GET /api/v1/alerts/{id}?as_of=ISO: the alert rebuilt from its events up to that instant."""
    who = principal(request)
    app, views = request.app[LONEWATCH], request.app[VIEWS]
    subject = f"alert:{alert_id}"
    school = await asyncio.to_thread(subject_school, app, views, subject)
    if school is None or not can_see_school(who, school):
        raise NotFound("alert not found")
    state = await request.app[POOLS].exports.run(state_as_of, app, views, subject, as_of)
    doc = (state or {}).get("alert")
    if doc is None:
        raise NotFound(f"the alert had not been raised by {as_of.isoformat()}")
    await _record(request, who, subject, Access.STATE_AS_OF, as_of.isoformat())
    return web.Response(text=dumps({**doc, "as_of": as_of}), content_type="application/json")


async def export_timeline(request: web.Request) -> web.Response:
    """GET /api/v1/timeline/export?alert=ID&format=html|json: the incident record to attach."""
    who = principal(request)
    if not can_export(who):
        # Said so a receptionist knows what to do, and logged: a refused look at a
        # safeguarding record is something a DSL may want to know about.
        log.info("record_export_refused", user=who.username, role=who.role.value)
        return problem(403, "Forbidden", EXPORT_REFUSED.format(who=ROLE_WORDS[who.role.value]))
    fmt = request.query.get("format", "html")
    if fmt not in {"html", "json"}:
        raise BadRequest(f"format must be html or json, got {fmt!r}")
    as_of = instant(request.query.get("as_of") or request.query.get("to"), "to")
    named = await subject_of(request)
    kind, key, subject = named.kind, named.key, named.name
    app, views, exports = request.app[LONEWATCH], request.app[VIEWS], request.app[POOLS].exports
    proof = request.app[PROOF]
    access = Access.EXPORT_HTML if fmt == "html" else Access.EXPORT_JSON
    detail, clock = request.query_string, request.app[CLOCK]

    def exported() -> tuple[bytes, datetime]:
        """`made`, the cycle collector paused until the record and its page are let go
        (docs/performance.md, export13): the record's ~10,000 dictionaries, alive between
        `incident_record`'s pause and `render_html`'s, counted towards a young collection
        that, once set off, scanned every young object of the process (the memos' entries
        of the records served before this one too: 40-81 ms of CPU, in 0-4 of 7 exports
        with the memos full, whose own work adds nothing to the count). Nothing made here
        makes a cycle; what it keeps is scanned at the next young collection, wherever it
        comes (a cold export's own, 10-19 ms, still at this job's end)."""
        with collector_paused():
            return made()

    def made() -> tuple[bytes, datetime]:
        """The record, its audit row, and its page or document encoded to the bytes sent:
        one job of the exports pool. The loop (every other user's request and the live feed
        share it) only sends the bytes: a 10,000-event record's JSON (24 MB, told by the
        standard library's encoder for its UTC times) held it for 300-570 ms of CPU, its
        page's encoding ~2 ms; one job, not four hops (default executor for the
        school's zone, pool, default executor, pool), so a busy machine makes a DSL wait for
        one worker's turn, not four."""
        timezone = _school_timezone(views, named.school)
        record = incident_record(
            app,
            views,
            subject,
            as_of=as_of,
            merkle=proof.merkle,
            key=proof.key,
            with_proofs=True,
            with_paths=fmt == "json",  # the printable page names the signed head, not each path
            zone=ZoneInfo(timezone),
            with_states=fmt == "json",  # the printable page shows no row's state
            with_data=fmt == "json",  # nor its event's fields
        )
        # Recorded before it is sent (and only once the record could be made).
        access_id = record_viewing(app, who, subject, named.school, access, detail)
        exported_at = clock.now()
        if fmt == "json":
            record.update(exported_by=who.actor, exported_at=exported_at, access_id=access_id)
            return dumps_holding(record, exported_at).encode(), exported_at
        page = render_html(
            record,
            exported_by=who.actor,
            exported_at=exported_at,
            access_id=access_id,
            timezone=timezone,
        )
        return page.encode(), exported_at

    body, exported_at = await exports.run(exported)
    filename = f"lonewatch-{kind}-{key[:8]}-{exported_at:%Y%m%d-%H%M%S}.{fmt}"
    disposition = {"Content-Disposition": f'inline; filename="{filename}"'}
    content_type = "application/json" if fmt == "json" else "text/html"
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=disposition)


def _page(request: web.Request, since: datetime | None) -> Page:
    """`limit` rows (PAGE by default; `limit=all`: the whole record, for tools) recorded
    after position `after` (the previous page's `next_after`)."""
    limit_text = request.query.get("limit", str(PAGE))
    after_text = request.query.get("after", "0")
    if limit_text != "all" and not (limit_text.isdigit() and 1 <= int(limit_text) <= MAX_PAGE):
        raise BadRequest(
            f"limit must be a whole number from 1 to {MAX_PAGE} or all, got {limit_text!r}"
        )
    if not after_text.isdigit():
        raise BadRequest(f"after must be a position (a whole number), got {after_text!r}")
    limit = None if limit_text == "all" else int(limit_text)
    return Page(after=int(after_text), limit=limit, since=since)


def _school_timezone(views: ViewStore, school: str) -> str:
    """The zone of the subject's school: every time in its record is told in it."""
    return timezone_of(views.get("school", school))


async def list_audit(request: web.Request) -> web.Response:
    """GET /api/v1/audit: who viewed or exported which record, and who signed in; newest first."""
    who = principal(request)
    if (refused := refusal(who, can_read_audit(who), "read the audit trail")) is not None:
        return refused
    limit_text = request.query.get("limit", "500")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 5000:
        raise BadRequest(f"limit must be a whole number from 1 to 5000, got {limit_text!r}")
    school = request.query.get("school")
    docs = await request.app[POOLS].exports.run(
        audit_trail, request.app[VIEWS], [school] if school else None, int(limit_text)
    )
    return web.Response(text=dumps({"audit": docs}), content_type="application/json")


async def _close_checks(app: web.Application) -> None:
    """The background whole-record checks (service/records/whole_checks.py) end with the app."""
    lonewatch = app.get(LONEWATCH)
    if lonewatch is not None:
        # On the loop, not a thread: the default executor may be shut already. It waits
        # at most for the one check running (a fraction of a second), once, at shutdown.
        close_checks(lonewatch)


def add_record_routes(app: web.Application) -> None:
    app.on_cleanup.append(_close_checks)
    app.router.add_get("/api/v1/timeline/export", export_timeline)
    app.router.add_get("/api/v1/timeline/verdict", get_timeline_verdict)
    app.router.add_get("/api/v1/audit", list_audit)
