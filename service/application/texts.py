"""Texts received (the SMS webhook): staff commands, HELP, the safe word, a contact's ACK.

A contact's ACK and a user's (from the mobile recorded for them: the directory file's
`phone`, or the Users page's) take an alert alike, the user recorded as themself
(`dsl:dsl1`). Each text is handled once per MessageSid (a retried webhook gets the reply it got first).
A staff text's reply says what was recorded (service/application/visitor_texts.py); a text
carrying the safe word gets exactly the reply it would get without it, so duress is
silent. A sender the directory does not know is recorded without their words.
"""

from __future__ import annotations

from service.application import visits
from service.application.acknowledgement import AlertFinder, Taker, acknowledges_by_text
from service.application.alerts import raise_staff_alert
from service.application.unit_of_work import UnitOfWork
from service.application.users import with_mobile
from service.application.visitor_texts import UNKNOWN_REPLY, visitor_text
from service.domain import ids
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.duress import detect_duress
from service.domain.people.directory import PhoneNumber
from service.domain.people.texts import (
    HELP_REPLY,
    STAFF_REPLY,
    InboundSms,
    StaffCommand,
    parse_contact_text,
)
from service.domain.visits.commands import parse_visitor_text
from service.domain.visits.text_alarms import asks_for_help, text_alarm


def receive_sms(
    uow: UnitOfWork, finder: AlertFinder | None, *, sender: str, body: str, message_sid: str
) -> str | None:
    """Handle a text once per MessageSid; returns the reply, if any. `finder` is how a
    contact's ACK finds its alert (None: acknowledgement by text is not available)."""
    if uow.exists(ids.inbound_sms_id(message_sid)):
        return _reply_for_repeat(uow, message_sid)
    owner = uow.load_optional(ids.phone_id(sender), PhoneNumber)
    if owner is not None and owner.staff:
        return _staff_text(uow, owner.staff[0], sender, body, message_sid)
    if owner is not None and owner.contacts:
        takers = [Taker(c["school"], c["name"]) for c in owner.contacts]
        who = f"contact:{owner.contacts[0]['school']}:{owner.contacts[0]['id']}"
        return _ack_text(uow, finder, takers, who, sender, body, message_sid)
    # A user's mobile counts after the directory's staff and contacts (as contacts count
    # after staff): a number shared with them stays theirs, as it was before.
    users = with_mobile(uow, sender)
    if users:
        takers = [Taker(u.school, u.actor) for u in users]
        who = f"user:{users[0].username}"
        return _ack_text(uow, finder, takers, who, sender, body, message_sid)
    uow.save(
        InboundSms(
            message_sid=message_sid,
            sender=sender,
            who="unknown",
            text="[not kept: unknown sender]",
            command=None,
            timestamp=uow.clock.now(),
        )
    )
    return None


def _reply_for_repeat(uow: UnitOfWork, message_sid: str) -> str | None:
    sms = uow.load(ids.inbound_sms_id(message_sid), InboundSms, "text")
    if sms.reply is not None:
        return sms.reply
    if sms.who.startswith("staff:"):
        return HELP_REPLY if sms.command == StaffCommand.HELP else STAFF_REPLY
    return None


def _staff_text(uow: UnitOfWork, staff_key: str, sender: str, body: str, message_sid: str) -> str:
    screened = detect_duress(body, visits.safe_word_hashes(uow, staff_key))
    text, duress = screened.text, screened.duress
    command = parse_visitor_text(text)
    now = uow.clock.now()
    sms = InboundSms(
        message_sid=message_sid,
        sender=sender,
        who=f"staff:{staff_key}",
        text=text,
        command=command.word.value if command else None,
        timestamp=now,
    )
    uow.save(sms)
    cause = {"text": str(ids.inbound_sms_id(message_sid)), "via": "sms"}
    source = f"sms:{message_sid}"
    alarm = text_alarm(command, duress=duress)
    if alarm is not None:
        key = ids.alert_key_for_text(message_sid)
        silent = alarm is AlertKind.DURESS
        raise_staff_alert(uow, staff_key, alarm, cause_key=key, cause=cause, silent=silent)
    if command is None:
        reply = UNKNOWN_REPLY
    elif asks_for_help(command):
        reply = HELP_REPLY
    else:
        # Under duress the visit is not changed (the phone may not be the visitor's to
        # use), but the reply is the one the same text would get without the safe word.
        reply = visitor_text(uow, staff_key, command, source=source, rehearse=duress)
    sms.replied(reply, now)
    uow.save(sms)
    return reply


def _ack_text(
    uow: UnitOfWork,
    finder: AlertFinder | None,
    takers: list[Taker],
    who: str,
    sender: str,
    body: str,
    message_sid: str,
) -> str:
    """A text from someone who takes alerts (a directory contact, a user with a mobile):
    ACK, with or without the alert's code, takes an alert; anything else says how."""
    ack = parse_contact_text(body)
    now = uow.clock.now()
    sms = InboundSms(
        message_sid=message_sid,
        sender=sender,
        who=who,
        text=body,
        command="ACK" if ack else None,
        timestamp=now,
    )
    uow.save(sms)
    if ack is None:
        reply = "Lonewatch: reply ACK and the alert's code to take an alert."
    else:
        reply = acknowledges_by_text(uow, finder, takers, ack.code, sender=sender)
    # Recorded, so a retried webhook (Twilio's, after a timeout) is answered the same.
    sms.replied(reply, now)
    uow.save(sms)
    return reply
