"""What a visitor's text raises, whichever way it came: an SMS, or a `message` from the phone app.

"`HELP` raises an SOS. A staff member's safe word anywhere in a text raises a silent duress
alert: the reply (if any) must not differ from an ordinary one." (INTERFACES.md section 3.)
One rule for both channels, so the app's HELP cannot drift from the SMS's again (it raised
nothing while the SMS's raised an SOS).

The safe word wins: a text with it raises the silent duress alert and nothing else (an SOS
beside it would tell the visitor's phone, and whoever holds it, that help is on its way by
a different road), but it is *answered* as the same text without it would be: HELP is
answered as HELP (`asks_for_help`). Pure: the command read from the (already screened)
text and the duress verdict in (service.domain.alerts.duress), a kind out.
"""

from __future__ import annotations

from service.domain.alerts.alert import AlertKind
from service.domain.visits.commands import VisitorText, Word


def asks_for_help(command: VisitorText | None) -> bool:
    """HELP, in any case or punctuation ('help!', 'Help me'): answered as a call for help
    (the SMS's HELP_REPLY, the app's `alert_received`), with or without the safe word."""
    return command is not None and command.word is Word.HELP


def text_alarm(command: VisitorText | None, *, duress: bool) -> AlertKind | None:
    """The alert a visitor's text raises: DURESS for the safe word (silent), else SOS for
    HELP, else none."""
    if duress:
        return AlertKind.DURESS
    if asks_for_help(command):
        return AlertKind.SOS
    return None
