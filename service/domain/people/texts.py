"""Texts from people: what staff and contacts can say by SMS (INTERFACES.md section 3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain.ids import inbound_sms_id


class StaffCommand(StrEnum):
    ARRIVED = "ARRIVED"
    LEFT = "LEFT"
    BACK = "BACK"
    OK = "OK"
    HELP = "HELP"


STAFF_REPLY = "Lonewatch: received, thank you."
"""Every staff text gets this same reply, so a text carrying the safe word (duress)
cannot be told from an ordinary one by whoever holds the phone."""
HELP_REPLY = "Lonewatch: help is being arranged. Call 999 if you are in immediate danger."


def parse_staff_text(text: str) -> StaffCommand | None:
    """The command is the first word, any case, punctuation ignored: 'ok!' is OK."""
    words = re.findall(r"[A-Za-z]+", text)
    if not words:
        return None
    try:
        return StaffCommand(words[0].upper())
    except ValueError:
        return None


@dataclass(frozen=True)
class ContactAck:
    code: str | None


def parse_contact_text(text: str) -> ContactAck | None:
    """`ACK` or `ACK 4DB312`: a contact takes the alert they were told of."""
    match = re.match(r"^\s*ack\b[\s:#-]*([0-9a-f]{6})?", text, re.IGNORECASE)
    if not match:
        return None
    return ContactAck(code=match[1].upper() if match[1] else None)


class InboundSms(Aggregate):
    """A text received through the webhook; the safe word, if any, is already redacted."""

    @staticmethod
    def create_id(message_sid: str) -> UUID:
        return inbound_sms_id(message_sid)

    @event("Received")
    def __init__(
        self,
        message_sid: str,
        sender: str,
        who: str,
        text: str,
        command: str | None,
        timestamp: datetime,
    ) -> None:
        self.message_sid = message_sid
        self.sender = sender
        self.who = who
        self.text = text
        self.command = command
        self.reply: str | None = None

    def replied(self, reply: str, timestamp: datetime) -> None:
        """What the sender was answered, so a retried webhook gets the same answer."""
        self._replied(reply=reply, timestamp=timestamp)

    @event("Replied")
    def _replied(self, reply: str, timestamp: datetime) -> None:
        self.reply = reply
