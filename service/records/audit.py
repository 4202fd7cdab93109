"""Recording who looked at which safeguarding record, and listing it for an admin."""

from __future__ import annotations

import re
from typing import Any

from projections.store import ViewStore
from service.application.lonewatch import Lonewatch
from service.domain.people.access import Principal
from service.domain.people.naming import person
from service.domain.people.record_access import Access, RecordAccess


def record_access(
    app: Lonewatch,
    *,
    actor: str,
    role: str,
    school: str | None,
    subject: str,
    access: Access,
    detail: str = "",
) -> str:
    """Record one viewing; returns its id, which an export prints so it can be traced."""
    viewing = RecordAccess(
        actor=actor,
        role=role,
        school=school,
        subject=subject,
        access=access.value,
        detail=detail,
        timestamp=app.clock.now(),
    )
    app.save(viewing)
    return str(viewing.id)


def record_viewing(
    app: Lonewatch,
    who: Principal,
    subject: str,
    school: str | None,
    access: Access,
    detail: str = "",
) -> str:
    return record_access(
        app,
        actor=who.actor,
        role=who.role.value,
        school=school,
        subject=subject,
        access=access,
        detail=detail,
    )


def audit_trail(
    views: ViewStore, schools: list[str] | None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Newest first, in the order recorded: record viewings, sign-ins and sign-outs."""
    order = {(e.originator_id, e.originator_version): e.position for e in views.index("audit")}
    docs = views.find("audit", schools=schools, limit=100_000)
    docs.sort(
        key=lambda d: order.get((str(d.get("record")), int(d.get("version") or 0)), 0), reverse=True
    )
    return [worded(doc) for doc in docs[:limit]]


def worded(doc: dict[str, Any]) -> dict[str, Any]:
    """An audit line as an admin reads it: `who` is the person ('admin1 (administrator)',
    not `admin:admin1`); a sign-in's `client` is the browser in short ('Chrome on Linux,
    from 10.0.0.7'); `actor` and `detail` keep the recorded values, the full user agent."""
    shown = dict(doc, who=person(doc.get("actor")))
    if doc.get("action") == "signed_in":
        shown["client"] = client_words(str(doc.get("detail") or ""))
    return shown


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Chrome (headless)"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("Python", "a script"),
    ("python", "a script"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
_ADDRESS = re.compile(r"[0-9a-fA-F.:]+|\?")


def client_words(client: str) -> str:
    """'127.0.0.1 Mozilla/5.0 (X11; Linux x86_64) ... Chrome/131.0 Safari/537.36' ->
    'Chrome on Linux, from 127.0.0.1' (a sign-in records its address and user agent)."""
    address, _, agent = client.partition(" ")
    if not _ADDRESS.fullmatch(address):
        address, agent = "", client
    browser = next((words for mark, words in _BROWSERS if mark in agent), "")
    system = next((words for mark, words in _SYSTEMS if mark in agent), "")
    what = " on ".join(w for w in (browser, system) if w) or (
        "an unknown browser" if agent else "no browser named"
    )
    return f"{what}, from {address}" if address and address != "?" else what
