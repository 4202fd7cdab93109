"""Recording who looked at which safeguarding record, and listing it for an admin."""

from __future__ import annotations

from typing import Any

from projections.store import ViewStore
from service.application.lonewatch import Lonewatch
from service.domain.people.access import Principal
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
    return docs[:limit]
