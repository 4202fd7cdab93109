"""The scheduler's actions for the escalation timers (written by projections/escalation.py):
the ladder's next step, telling everyone who took an alert, an unconfirmed try's deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from projections.timers import TimerAction
from service.application.escalation import announce_taken, escalate
from service.application.outbox import check_unconfirmed
from service.application.unit_of_work import UnitOfWork


def timer_actions(uow: UnitOfWork) -> dict[str, TimerAction]:
    """By the timer documents' `action`; each is idempotent (a timer may fire twice)."""

    def on_escalate(timer: dict[str, Any], _now: datetime) -> None:
        escalate(uow, UUID(timer["alert_id"]))

    def on_announce(timer: dict[str, Any], _now: datetime) -> None:
        announce_taken(uow, UUID(timer["alert_id"]))

    def on_unconfirmed(timer: dict[str, Any], _now: datetime) -> None:
        check_unconfirmed(uow, UUID(timer["notification_id"]))

    return {
        "escalate": on_escalate,
        "announce_taken": on_announce,
        "check_unconfirmed": on_unconfirmed,
    }
