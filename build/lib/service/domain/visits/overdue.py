"""The overdue ladder's messages: who is told what at each step. Plain functions.

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
from service.domain.visits.rules import CALL_HOME_WORDS, CallHomeOutcome

CONTACT_STAFF = "contact_staff"
RECEPTION_CALLS_HOME = "reception_calls_home"
INFORM_SLT = "inform_slt"


@dataclass(frozen=True)
class CallHomeReport:
    """What reception said when they marked ringing the pupil's home done; `outcome` is
    None when they did not say."""

    outcome: CallHomeOutcome | None
    by: str
    at: datetime


@dataclass(frozen=True)
class SltDecision:
    """Whether the `inform_slt` step tells SLT, why, and whose report it rests on."""

    inform: bool
    because: str
    reported_by: str | None = None
    reported_at: datetime | None = None

    def as_event_data(self) -> dict[str, Any]:
        return {
            "inform": self.inform,
            "because": self.because,
            "reported_by": self.reported_by,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
        }


def slt_decision(report: CallHomeReport | None) -> SltDecision:
    """'If contact has not been made or there is any cause for concern, a member of SLT will
    be informed.' (policy 003) Only reception's report that they reached the home and found
    no concern holds SLT back; no report by then (the task not done, or no reception step
    in the school's ladder) counts as no contact, so the ladder never stalls on a silence."""
    if report is None:
        return SltDecision(True, "reception had not reported reaching the pupil's home by then")
    if report.outcome is None:
        because = "reception marked the call done without saying whether contact was made"
    else:
        because = f"reception {CALL_HOME_WORDS[report.outcome]}"
    inform = report.outcome is not CallHomeOutcome.CONTACT_MADE_NO_CONCERN
    return SltDecision(inform, because, report.by, report.at)


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
    action: str, facts: VisitFacts, school: dict[str, Any]
) -> list[PlannedNotification]:
    """The notifications one step of the school's overdue.steps asks for."""
    due = facts.local(facts.expected_return)
    step = f"overdue:{action}"
    if action == CONTACT_STAFF:
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
    if action == RECEPTION_CALLS_HOME:
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
    if action == INFORM_SLT:
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
