"""A visitor's own text that raised an alert, and the reply they got, are in that alert's
record.

The DSL preparing a case review prints an alert's record (GET /api/v1/timeline/export);
without these the record said "duress alert raised: the safe word in a text" but not what
the visitor wrote nor what their phone was sent back. The text is stored already redacted
(every safe word is `[redacted]` before anything is stored: service/domain/alerts/duress.py),
so the record can print it.

The text is recorded before the alert it raises, so it is tied to the alert by the alert's
id, which derives from the text (service/domain/ids.py): a staff text raises one when it
says HELP or held a safe word (its stored text then holds `[redacted]`), and so does a phone
app's `message`, at intake (service.domain.visits.text_alarms, one rule for both). The
reply, recorded after,
follows its text. Views built before this module hold no such entries: a rebuild of the
views (drop them; start-up rebuilds) adds them to old records, from the same events.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.core import Effects, Reader
from service.domain import ids
from service.domain.alerts.duress import REDACTED
from service.domain.visits.commands import parse_visitor_text
from service.domain.visits.text_alarms import text_alarm


def raised_by_text(event: Any) -> UUID | None:
    """The alert a staff member's text (`InboundSms.Received`) raised, if it raised one."""
    if not str(event.who).startswith("staff:"):
        return None
    sid, text = str(event.message_sid), str(event.text or "")
    if sid.startswith("app:"):  # a phone app message read as a text: raised at intake
        return raised_by_app_message(UUID(sid[4:]), text)
    if not _raised_an_alert(text):
        return None
    return ids.alert_id(ids.alert_key_for_text(sid))


def raised_by_app_message(message_id: UUID, text: str) -> UUID | None:
    """The alert a phone app's `message` raised at intake (HELP, a safe word), if any."""
    if not _raised_an_alert(text):
        return None
    return ids.alert_id(ids.alert_key_for_message(message_id))


def _raised_an_alert(stored_text: str) -> bool:
    """A stored text raised an alert when it said HELP or held a safe word (stored masked)."""
    return text_alarm(parse_visitor_text(stored_text), duress=REDACTED in stored_text) is not None


def text_received(event: Any, read: Reader, fx: Effects) -> None:
    alert = raised_by_text(event)
    if alert is None:
        return
    fx.docs[("alert-text", str(event.originator_id))] = {
        "id": str(event.originator_id),
        "alert": str(alert),
    }
    fx.subjects.append(f"alert:{alert}")


def text_replied(event: Any, read: Reader, fx: Effects) -> None:
    link = read("alert-text", str(event.originator_id))
    if link is not None:
        fx.subjects.append(f"alert:{link['alert']}")


ALERT_TEXT_HANDLERS = {
    "InboundSms.Received": text_received,
    "InboundSms.Replied": text_replied,
}
