"""The visit timers, as the visit projection (projections/visits.py) writes and settles them.

Deadlines become `timer` documents (projections/timers.py; service/workers/scheduler.py
fires them; service/application/visit_deadlines.py records what passed):

- `visit-leave:<id>`   expected leave + grace     -> ask the visitor to reply OK
- `visit-return:<id>`  expected return + grace    -> overdue: alert and ladder
- `visit-ladder:<id>`  the next overdue step      -> take it
- `visit-device:<id>`  last heard + offline_after -> device_offline alert (lone visits)
- `visit-battery:<id>` a reading below low_battery_below, due at once -> low_battery alert
  (lone visits, once per visit)
- `visit-checkin-<message>:<id>` a device `checkin` during a visit -> counts as OK
- `visit-text-<message>:<id>` a phone app `message` during a visit -> read as a visitor text

When the ladder's next step is due is the domain's (service/domain/visits/overdue_ladder.py):
imported here, never recomputed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from projections.core import Doc, Effects, Reader
from projections.timers import timer_doc
from service.domain.visits.overdue_ladder import (
    DEFAULT_OFFLINE_AFTER,
    next_step_due,
    steps_from_data,
)


def set_timer(
    fx: Effects, doc: Doc, suffix: str, action: str, due: datetime, **details: Any
) -> None:
    timer_id = f"visit-{suffix}:{doc['id']}"
    fx.docs[("timer", timer_id)] = timer_doc(
        timer_id, action=action, due_at=due, school=doc["school"], visit=doc["id"], **details
    )
    doc["timers"] = sorted({*doc.get("timers", []), timer_id})


def settle(read: Reader, fx: Effects, doc: Doc, suffix: str, state: str) -> None:
    """Mark the visit's timers (those whose id starts `visit-<suffix>`) done or cancelled."""
    prefix = f"visit-{suffix}"
    for timer_id in doc.get("timers", []):
        if not timer_id.startswith(prefix):
            continue
        timer = fx.docs.get(("timer", timer_id)) or read("timer", timer_id)
        if timer is not None and timer["state"] == "pending":
            fx.docs[("timer", timer_id)] = {**timer, "state": state}


def watch_device(fx: Effects, doc: Doc, seen: datetime) -> None:
    """The lone visitor's device is next missed `offline_after` after it was last heard."""
    due = seen + timedelta(seconds=int(doc.get("offline_after", DEFAULT_OFFLINE_AFTER)))
    set_timer(fx, doc, "device", "visit_device_silent", due, last_seen=seen.isoformat())


def next_ladder_step(fx: Effects, doc: Doc, started: datetime, taken: set[int]) -> None:
    """A timer for the overdue ladder's next step not taken, if any is left."""
    steps = steps_from_data(doc.get("ladder_steps"))
    due = next_step_due(started, steps, taken)
    if due is not None:
        set_timer(fx, doc, "ladder", "visit_ladder", due)
