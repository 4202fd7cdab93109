"""Who may read a pupil's reference and a visitor's own words (issue 16), and who is never
shown a silent (duress) alert on a visit.

SEN Trust: notes "will only be shared with the relevant senior leaders"; King's Academy:
"shared only with authorised personnel in line with safeguarding protocols". So the DSL,
the headteacher and an admin read everything; the visitors read their own visit (they go
to the home, they wrote the report); reception (an operator) reads a pupil's reference
only while the overdue ladder has them ringing that pupil's home, and never what a
visitor wrote: a visit's notes and report, nor a visitor's text or phone app message (and
the reply it got) in any record, a visit's, an alert's, a device's or a person's. What is
withheld is replaced by WITHHELD wherever it appears, field or prose. Nothing an alarm is
answered with is withheld: who, where, what kind, their number, who has been told.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from service.domain.people.access import SAFEGUARDING_LEADS, Principal
from service.domain.people.directory import Role

WITHHELD = "[confidential]"
NOTES = frozenset({"notes", "report"})
"""Fields holding what a visitor wrote after the visit."""
VISITOR_WORDS: dict[str, tuple[str, ...]] = {
    "InboundSms.Received": ("text",),
    "InboundSms.Replied": ("reply",),
    "DeviceMessage.Received": ("fields", "text"),
}
"""Where a record's row holds a visitor's own words (a text, a phone app's message) or the
reply their phone got: the row's event and the path to the words in its `data`."""


def may_read_everything(who: Principal) -> bool:
    return who.role in SAFEGUARDING_LEADS


def may_read_pupil_ref(who: Principal, visitors: Collection[str], calling_home: bool) -> bool:
    """Leads; the visit's own visitors; reception while it must ring the pupil's home."""
    if may_read_everything(who) or who.username in visitors:
        return True
    return who.role is Role.OPERATOR and calling_home


def may_read_notes(who: Principal, visitors: Collection[str]) -> bool:
    """What a visitor wrote (notes, report, texts, messages): leads and the visitors."""
    return may_read_everything(who) or who.username in visitors


def without_visitor_words(record: Any) -> Any:
    """A record (`events`: its rows) whose rows holding a visitor's words (or the reply they
    got) have those words withheld, in the row's data and in its summary alike. Only in
    their own rows: a visitor's "OK" must not blank every "OK" of the record."""
    rows = record.get("events") if isinstance(record, dict) else None
    if not isinstance(rows, list):
        return record
    kept = []
    for row in rows:
        path = VISITOR_WORDS.get(str(row.get("event"))) if isinstance(row, dict) else None
        words: Any = row.get("data") if path else None
        for key in path or ():
            words = words.get(key) if isinstance(words, dict) else None
        hidden = isinstance(words, str) and words.strip()
        kept.append(withheld(row, [words], ()) if hidden else row)
    return {**record, "events": kept}


def values_of(value: Any, field: str) -> list[str]:
    """Every value of `field` however deep (a pupil's reference in each visit of a record)."""
    if isinstance(value, dict):
        own = [str(value[field])] if value.get(field) not in (None, "") else []
        return own + [v for k, item in value.items() for v in values_of(item, field)]
    if isinstance(value, list):
        return [v for item in value for v in values_of(item, field)]
    return []


SILENT_KINDS = frozenset({"duress"})  # AlertKind.DURESS (alerts import people, not back)
"""Alerts raised silent before the flag was carried onto a visit: every duress alert is
raised silent, so a visit entry without the flag (an old view) is silent by its kind."""


def raised_silent(kind: object, flag: object) -> bool:
    """Whether an alert the visitor must never see was raised (their phone may be in someone
    else's hands): its recorded `silent` flag, whatever its kind (an SOS whose message also
    held the safe word is silent); with no flag recorded, a duress alert is."""
    return bool(flag) if flag is not None else kind in SILENT_KINDS


def may_see_silent_alerts(who: Principal) -> bool:
    """A visitor (role staff) reads their own visit, never that their safe word raised a
    duress alert: as no text or call to them says so, no page does."""
    return who.role is not Role.STAFF


def without_silent_alerts(value: Any) -> Any:
    """A visit document (or a live change of one) without its silent alerts."""
    if isinstance(value, dict) and isinstance(value.get("alerts"), list):
        kept = [
            a
            for a in value["alerts"]
            if not (isinstance(a, dict) and raised_silent(a.get("kind"), a.get("silent")))
        ]
        return {**value, "alerts": kept}
    return value


def withheld(value: Any, texts: Collection[str], fields: Collection[str]) -> Any:
    """`value` with every field named in `fields` and every occurrence of each of `texts`
    (in any string, however deep) replaced by WITHHELD."""
    if isinstance(value, dict):
        return {
            k: WITHHELD
            if k in fields and v not in (None, "", [], {})
            else withheld(v, texts, fields)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [withheld(v, texts, fields) for v in value]
    if isinstance(value, str):
        for text in texts:
            if text and text in value:
                # Whole words only: a reference like 123 must not mangle an id around it.
                value = re.sub(
                    rf"(?<![A-Za-z0-9]){re.escape(text)}(?![A-Za-z0-9])", WITHHELD, value
                )
        return value
    return value
