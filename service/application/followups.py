"""Follow-up actions of a visit: logged (assigned, due), marked done, and the record the DSL
attaches to CPOMS ("If follow-up actions are required, these should be logged and monitored
on CPOMS", King's Academy Gomer). The rules: service/domain/visits/followups.py."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application.unit_of_work import UnitOfWork
from service.application.visits import change, load
from service.domain.errors import Forbidden, NotFound
from service.domain.people.access import Principal, can_see_school
from service.domain.visits.decisions import RULES, Rule
from service.domain.visits.during import during_of
from service.domain.visits.followups import (
    followup_id,
    followup_parts,
    followup_refusal,
    followups_of,
)
from service.domain.visits.incidents import incidents_of
from service.domain.visits.visit import Visit


def log_followup(
    uow: UnitOfWork,
    visit_id: UUID,
    principal: Principal,
    *,
    action: str,
    assignee: str,
    due: date,
) -> str:
    """Log it on the visit; its id (`followup:<visit>:<n>`)."""
    number: list[int] = []

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        refusal = followup_refusal(principal, visit.staff)
        if refusal:
            raise Forbidden(refusal)
        number[:] = [
            visit.log_followup(
                action=action, assignee=assignee, due=due, by=principal.actor, timestamp=now
            )
        ]
        return []

    change(uow, visit_id, principal, command)
    return followup_id(visit_id, number[0])


def complete_followup(uow: UnitOfWork, followup: str, principal: Principal, *, note: str) -> bool:
    """Mark it done (False: the same person already had)."""
    parts = followup_parts(followup)
    if parts is None:
        raise NotFound("follow-up not found")
    visit_id, number = parts
    found = uow.load_optional(visit_id, Visit)
    if found is None or not can_see_school(principal, found.school):
        raise NotFound("follow-up not found")
    changed: list[bool] = [False]

    def command(visit: Visit, now: datetime) -> list[Aggregate]:
        item = followups_of(visit).get(number)
        if item is None:
            raise NotFound("follow-up not found")
        refusal = followup_refusal(principal, visit.staff, assignee=item["assignee"])
        if refusal:
            raise Forbidden(refusal)
        changed[:] = [visit.complete_followup(number, by=principal.actor, note=note, timestamp=now)]
        return []

    change(uow, visit_id, None, command)
    return changed[0]


CSV_COLUMNS = ("record", "number", "when", "who", "what", "assigned_to", "due", "state", "done")


def cpoms_rows(visit: Visit) -> list[dict[str, Any]]:
    """The visit's record for CPOMS, one row per concern, decision, early end, incident and
    follow-up action, in order of entry within each kind."""
    during = during_of(visit)
    rows: list[dict[str, Any]] = [
        {
            "record": "visit",
            "when": visit.planned_start.isoformat(),
            "who": ", ".join(visit.staff),
            "what": f"{visit.purpose.value} visit {visit.ref}, pupil {visit.pupil_ref}, "
            f"{visit.address}; state {visit.state.value}",
        }
    ]
    rows += [
        {
            "record": "concern",
            "number": c["number"],
            "when": c["at"].isoformat(),
            "who": c["by"],
            "what": c["notes"],
        }
        for c in during["concerns"]
    ]
    rows += [
        {
            "record": "decision",
            "when": d["at"].isoformat(),
            "who": d["by"],
            "what": f"{RULES[Rule(d['rule'])].words} -> {d['choice']}: {d['notes']}",
        }
        for d in during["decisions"]
    ]
    if during["ended_early"]:
        e = during["ended_early"]
        rows.append(
            {
                "record": "ended_early",
                "when": e["at"].isoformat(),
                "who": e["by"],
                "what": e["words"],
            }
        )
    rows += [
        {
            "record": f"incident ({i['kind']})",
            "number": i["number"],
            "when": i["at"].isoformat(),
            "who": i["by"],
            "what": i["notes"],
        }
        for i in incidents_of(visit)
    ]
    for f in followups_of(visit).values():
        done = (
            f"{f['done_by']} {f['done_at'].isoformat()}: {f.get('done_notes', '')}"
            if f["state"] == "done"
            else ""
        )
        rows.append(
            {
                "record": "follow-up",
                "number": f["number"],
                "when": f["at"].isoformat(),
                "who": f["by"],
                "what": f["notes"],
                "assigned_to": f["assignee"],
                "due": f["due"],
                "state": f["state"],
                "done": done,
            }
        )
    return rows


def cpoms_csv(uow: UnitOfWork, visit_id: UUID, principal: Principal) -> tuple[Visit, str]:
    """The visit's record as CSV, to attach on CPOMS."""
    visit = load(uow, visit_id, principal)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in cpoms_rows(visit):
        writer.writerow({k: _cell(row.get(k, "")) for k in CSV_COLUMNS})
    return visit, out.getvalue()


def _cell(value: object) -> str:
    """A spreadsheet must not run what a visitor typed: a leading = + - @ is quoted."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
