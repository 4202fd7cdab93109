"""A visitor's command, by SMS or from the phone app's `message` topic, applied to the visit
they are signed out on, and the reply that says what was recorded.

ARRIVED, BACK and OK move the visit on as before (`staff_command`, here); LEFT [next: place], EXTEND N, CONCERN <words> and ENDED <reason> are
recorded by service/application/visit_during.py. A text that carries the safe word is
*rehearsed*: the same command is tried on a copy of the visit that is never saved, so the
reply is exactly the one the text would get without the safe word, and nothing changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from service.application import visit_during, visits
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.duress import REDACTED
from service.domain.devices.messages import DeviceMessage
from service.domain.errors import DomainError
from service.domain.people.texts import STAFF_REPLY, InboundSms, StaffCommand
from service.domain.visits.commands import (
    HELP_TEXT,
    NO_VISIT_REPLY,
    VisitorText,
    Word,
    parse_visitor_text,
    reply_concern,
    reply_ended,
    reply_extended,
    reply_left,
    reply_refused,
)
from service.domain.visits.during import during_of
from service.domain.visits.text_alarms import asks_for_help
from service.domain.visits.visit import Visit
from service.logs import get_logger

log = get_logger(__name__)

SIMPLE_WORDS = {
    Word.ARRIVED: StaffCommand.ARRIVED,
    Word.BACK: StaffCommand.BACK,
    Word.OK: StaffCommand.OK,
}
"""Commands that move the visit on and are answered, as always, with STAFF_REPLY."""
UNKNOWN_REPLY = HELP_TEXT

STAFF_TEXT_ACTIONS = {
    StaffCommand.ARRIVED: "arrive",
    StaffCommand.LEFT: "leave",
    StaffCommand.BACK: "return",
    StaffCommand.OK: "checkin",
}


def staff_command(app: UnitOfWork, staff_key: str, command: StaffCommand, *, source: str) -> None:
    """ARRIVED, LEFT, BACK, OK move the visit the sender is signed out on. A text that does
    not fit (no current visit, ARRIVED twice) is logged, never an error: the reply to staff
    must stay the same whatever happens."""
    action = STAFF_TEXT_ACTIONS.get(command)
    visit = visits.current_visit(app, staff_key)
    if action is None or visit is None:
        log.info("staff_text_without_visit", staff=staff_key, command=command.value)
        return
    try:
        via = f"text {command.value} ({source})"
        visits.move(app, visit.id, action, by=f"staff:{staff_key}", via=via, principal=None)
    except DomainError as exc:
        log.info("staff_text_refused", staff=staff_key, command=command.value, reason=str(exc))


def visitor_text(
    uow: UnitOfWork, staff_key: str, command: VisitorText, *, source: str, rehearse: bool
) -> str:
    """Apply `command` (never HELP: the caller raises the SOS) to the sender's current visit
    and say what was recorded, or why not. `rehearse`: change nothing, reply the same."""
    simple = SIMPLE_WORDS.get(command.word)
    if simple is not None:
        if not rehearse:
            staff_command(uow, staff_key, simple, source=source)
        return STAFF_REPLY
    visit = visits.current_visit(uow, staff_key)
    if visit is None:
        log.info("visitor_text_without_visit", staff=staff_key, command=command.word.value)
        return NO_VISIT_REPLY
    by = f"staff:{staff_key}"
    channel = "text" if source.startswith("sms:") else "app message"
    via = f"{channel} {command.word.value} ({source})"
    now = uow.clock.now()
    try:
        if rehearse:
            _apply(visit, command, by=by, via=via, now=now)
            after = visit
        else:
            after = _record(uow, visit.id, command, by=by, via=via)
    except DomainError as exc:
        log.info("visitor_text_refused", staff=staff_key, command=command.word.value)
        return reply_refused(str(exc).rstrip("."))
    return _reply(command, after, now, uow.directory.school(after.school).timezone)


def _apply(visit: Visit, command: VisitorText, *, by: str, via: str, now: datetime) -> None:
    """The command on a loaded visit, unsaved (what the use cases do, minus their alert)."""
    if command.word is Word.CONCERN:
        visit.raise_concern(words=command.detail, by=by, via=via, timestamp=now)
    elif command.word is Word.LEFT:
        visit_during.apply_left(visit, place=command.detail, by=by, via=via, now=now)
    elif command.word is Word.EXTEND:
        visit_during.apply_extend(visit, minutes=command.minutes, by=by, via=via, now=now)
    elif command.word is Word.ENDED:
        visit.end_early(words=command.detail, by=by, via=via, timestamp=now)


def _record(uow: UnitOfWork, visit_id: UUID, command: VisitorText, *, by: str, via: str) -> Visit:
    if command.word is Word.CONCERN:
        return visit_during.raise_concern(uow, visit_id, words=command.detail, by=by, via=via)
    if command.word is Word.LEFT:
        return visit_during.left_for(uow, visit_id, place=command.detail, by=by, via=via)
    if command.word is Word.EXTEND:
        return visit_during.extend_by(uow, visit_id, minutes=command.minutes, by=by, via=via)
    if command.word is Word.ENDED:
        return visit_during.end_early(uow, visit_id, words=command.detail, by=by, via=via)
    raise DomainError(f"{command.word.value} is not a visit command")


def _reply(command: VisitorText, visit: Visit, now: datetime, timezone: str) -> str:
    during: dict[str, Any] = during_of(visit)
    if command.word is Word.CONCERN:
        return reply_concern(len(during["concerns"]))
    if command.word is Word.LEFT:
        return reply_left(now, bool(command.detail), timezone)
    if command.word is Word.EXTEND:
        return reply_extended(command.minutes or 0, visit.expected_return, timezone)
    return reply_ended()


def app_message(uow: UnitOfWork, message_id: UUID) -> str | None:
    """A `message` from the phone app read as a text command (a timer due at once, written
    by the visit projection); the reply it would get by SMS, or None when it is not a
    command. Read once: it is recorded as a text received (`app:<message id>`), which
    settles the timer. A HELP raised its SOS at intake, and a message that carried the safe
    word its duress alert: neither changes anything here."""
    sid = f"app:{message_id}"
    message = uow.load_optional(message_id, DeviceMessage)
    if message is None or not message.staff or uow.exists(ids.inbound_sms_id(sid)):
        return None
    text = str((message.fields or {}).get("text") or "")
    command = parse_visitor_text(text)
    now = uow.clock.now()
    sms = InboundSms(
        message_sid=sid,
        sender=f"device:{message.device}",
        who=f"staff:{message.staff}",
        text=text,
        command=command.word.value if command else None,
        timestamp=now,
    )
    uow.save(sms)
    if command is None or asks_for_help(command) or REDACTED in text:
        return None  # HELP, like the safe word, raised its alert at intake
    reply = visitor_text(uow, message.staff, command, source=f"app:{message_id}", rehearse=False)
    sms.replied(reply, now)
    uow.save(sms)
    return reply
