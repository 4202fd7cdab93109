"""The overdue ladder's messages: who is told what at each step. Plain functions.

Which step comes when, and whether SLT are told: service/domain/visits/overdue_ladder.py.

"If the designated staff do not return to school at the agreed expected time of
return, the member of staff will be contacted on the mobile phone. If contact is
not possible, Reception staff will attempt to contact the Pupil's home. If contact
has not been made or there is any cause for concern, a member of SLT will be
informed to take necessary actions." (William Lilley home visit policy)

Messages name the visitor and the pupil's opaque reference, never the pupil.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.alerts.escalation import PlannedNotification
from service.domain.alerts.notifications import Channel
from service.domain.visits.overdue_ladder import Action


@dataclass(frozen=True)
class VisitFacts:
    """What the messages about one visit need to say."""

    code: str
    visitor: str
    visitor_key: str
    mobile: str
    school_name: str
    timezone: str
    pupil_ref: str
    expected_return: datetime

    def local(self, instant: datetime) -> str:
        return instant.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M")


def leave_prompt(facts: VisitFacts) -> PlannedNotification:
    """Not left the property on time: ask the visitor to reply OK."""
    return PlannedNotification(
        contact=f"staff:{facts.visitor_key}",
        contact_name=facts.visitor,
        to=facts.mobile,
        channel=Channel.SMS,
        body=(
            f"Lonewatch {facts.school_name}: you were expected to have left your visit by now. "
            "Reply OK if you are safe, LEFT when you leave."
        ),
        reason="visit: not left the property on time",
        step="leave-prompt",
    )


def ladder_step(
    action: Action, facts: VisitFacts, school: dict[str, Any]
) -> list[PlannedNotification]:
    """The notifications one step of the school's overdue.steps asks for."""
    due = facts.local(facts.expected_return)
    step = f"overdue:{action.value}"
    if action is Action.CALL_VISITOR:
        body = (
            f"Lonewatch {facts.school_name}: you were due back at {due}. "
            "Reply OK if you are safe, or BACK when you are signed in."
        )
        # Voice calls are the escalation work's; a dispatcher without voice leaves them requested.
        return [
            PlannedNotification(
                contact=f"staff:{facts.visitor_key}",
                contact_name=facts.visitor,
                to=facts.mobile,
                channel=channel,
                body=body,
                reason="overdue step: contact the visitor",
                step=step,
            )
            for channel in (Channel.SMS, Channel.VOICE)
        ]
    if action is Action.RECEPTION_CALLS_HOME:
        phone = school.get("reception_phone")
        if not phone:
            return []
        return [
            PlannedNotification(
                contact="reception",
                contact_name="Reception",
                to=str(phone),
                channel=Channel.SMS,
                body=(
                    f"LONEWATCH {facts.school_name}: {facts.visitor} is overdue from a home visit "
                    f"(due back {due}) and has not answered. Please ring the home of pupil "
                    f"{facts.pupil_ref} now (visit {facts.code}); see the task on the console."
                ),
                reason="overdue step: reception calls the pupil's home",
                step=step,
            )
        ]
    if action is Action.INFORM_SLT:
        contacts = [c for c in school.get("contacts", []) if c.get("role") == "slt"] or [
            c for c in school.get("contacts", []) if c.get("role") == "headteacher"
        ]
        return [
            PlannedNotification(
                contact=str(c["id"]),
                contact_name=str(c["name"]),
                to=str(c["phone"]),
                channel=Channel.SMS,
                body=(
                    f"LONEWATCH {facts.school_name}: {facts.visitor} is overdue from a home visit "
                    f"(due back {due}); no contact made by phone or with the home. "
                    f"Please take the necessary action (visit {facts.code})."
                ),
                reason="overdue step: senior leaders informed",
                step=step,
            )
            for c in contacts
            if c.get("phone")
        ]
    return []
