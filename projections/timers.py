"""The shape of a timer document, and of the action that fires it.

Projections write `timer` documents when an event creates a deadline; the scheduler
(service/workers/scheduler.py) fires the due ones by calling the action a use case
registered under the timer's `action` name. Both sides need these two names and
nothing else of each other, so they live here, below both: a timer is a view
document like any other (it is written, read and settled in the view store), and
the layers contracts keep use cases and projections from reaching up to the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

TimerAction = Callable[[dict[str, Any], datetime], None]
"""Called with the timer document and the instant it was noticed (from the clock)."""


class TimerRegistry(Protocol):
    """What a use case needs of the scheduler: to register its actions by name."""

    def register(self, action: str, handler: TimerAction) -> None: ...


def timer_doc(
    timer_id: str,
    *,
    action: str,
    due_at: datetime,
    school: str | None,
    state: str = "pending",
    **details: Any,
) -> dict[str, Any]:
    """The shape of a timer document, for projections to write."""
    return {
        "id": timer_id,
        "action": action,
        "due_at": due_at.isoformat(),
        "school": school,
        "state": state,
        **details,
    }
