"""What a person is shown of a visit, and the trail each read of personal data leaves.

The rules are the domain's (service/domain/people/confidentiality.py); this applies them to
the documents the API sends (a visit, a visit's change on the live stream, a visit's
timeline) and records each single read of a visit or an alert (`RecordAccess`, listed by
GET /api/v1/audit).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiohttp import web

from service.domain.people.access import Principal
from service.domain.people.confidentiality import (
    NOTES,
    may_read_notes,
    may_read_pupil_ref,
    may_see_silent_alerts,
    values_of,
    withheld,
    without_silent_alerts,
    without_visitor_words,
)
from service.domain.people.record_access import Access
from service.entrypoints.http.keys import LONEWATCH
from service.entrypoints.http.people import visit_with_people
from service.records.audit import record_viewing

CALL_HOME = "reception_calls_home"


def calling_home(visit: dict[str, Any]) -> bool:
    """Reception has been asked to ring this visit's pupil's home (this overdue episode)."""
    if not visit.get("overdue"):
        return False
    if "overdue_steps_taken" in visit:  # rendered from the aggregate
        return CALL_HOME in visit["overdue_steps_taken"]
    steps = visit.get("ladder_steps") or []  # a view document
    return any(
        i < len(steps) and steps[i].get("do") == CALL_HOME for i in visit.get("steps_taken") or []
    )


def worded(who: Principal, visit: dict[str, Any]) -> dict[str, Any]:
    """The visit as `who` may read it, its people named as the console names them
    (service/entrypoints/http/people.py): worded after withholding, so nothing withheld
    reaches the words."""
    shown_visit: dict[str, Any] = shown(who, visit)
    return visit_with_people(shown_visit)


def shown(who: Principal, visit: dict[str, Any], value: Any = None) -> Any:
    """`value` (the visit itself by default, or a record: the visit's timeline, or an
    alert's, a device's or a person's, with the visit it is tied to or `{"staff": [...]}`)
    as `who` may read it: the one rule for every record (the domain's, applied here)."""
    visitors = list(visit.get("staff") or [])
    target = visit if value is None else value
    texts: list[str] = []
    fields: set[str] = set()
    if not may_read_pupil_ref(who, visitors, calling_home(visit)):
        # The visit's own, and each one a record of many visits holds (a person's).
        texts += [str(visit.get("pupil_ref") or ""), *values_of(target, "pupil_ref")]
        fields.add("pupil_ref")
    if not may_read_notes(who, visitors):
        fields |= NOTES
        target = without_visitor_words(target)
    if not may_see_silent_alerts(who):
        target = without_silent_alerts(target)
    return withheld(target, texts, fields) if fields else target


WITHHELD_WORDS = (
    "Some of this record is shown as [confidential]: what the visitor wrote and the pupil's "
    "reference are for the DSL, the headteacher and the visitors (safeguarding is need to "
    "know). Who, where, what kind and who has been told are all here."
)
"""Said beside a record whose reader may not read all of it, so a gap is not a fault."""


def withheld_words(who: Principal, visit: dict[str, Any]) -> str | None:
    """WITHHELD_WORDS when `who` is shown a record tied to `visit` with something withheld."""
    visitors = list(visit.get("staff") or [])
    return None if may_read_notes(who, visitors) else WITHHELD_WORDS


async def audited(
    request: web.Request, who: Principal, subject: str, school: str | None, access: Access
) -> None:
    """One read of a record that names people, recorded (who, when, what, how asked)."""
    await asyncio.to_thread(
        record_viewing, request.app[LONEWATCH], who, subject, school, access, request.query_string
    )


LIST_WINDOW_SECONDS = 600.0
"""A list is recorded once per person, path and window: the console polls the board every
30 s, and a record of each poll would bury the trail (and the store) in repeats."""


class ListViewings:
    """When each person's read of each list was last recorded, in this process."""

    def __init__(self, window: float = LIST_WINDOW_SECONDS, limit: int = 10_000) -> None:
        self.window = window
        self.limit = limit
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, actor: str, path: str) -> bool:
        """True (and noted) when this person's read of this list should be recorded now."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get((actor, path))
            if last is not None and now - last < self.window:
                return False
            if len(self._last) >= self.limit:  # bounded: made-up paths cannot grow it forever
                self._last.clear()
            self._last[(actor, path)] = now
            return True


LIST_VIEWINGS: web.AppKey[ListViewings] = web.AppKey("list_viewings", ListViewings)


async def audited_list(request: web.Request, who: Principal, shown: int) -> None:
    """A list or search that names people was read: recorded once per person per window,
    with how many records it showed and what was asked."""
    viewings = request.app[LIST_VIEWINGS]
    if not viewings.due(who.actor, request.path):
        return
    detail = f"{shown} shown" + (f"; {request.query_string}" if request.query_string else "")
    await asyncio.to_thread(
        record_viewing,
        request.app[LONEWATCH],
        who,
        f"list:{request.path}",
        who.school,
        Access.LIST,
        detail,
    )
