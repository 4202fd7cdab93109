"""What happened, in words a DSL can take to a case review.

The record keeps everything (each try of each text, each receipt from the provider); a
person reading it needs names, not contact ids; people as they are known ("reception1,
contact centre", not `operator:reception1`); and the escalation summed up in a sentence,
with the machinery one click away. This module words the rows and the summary; it never
drops a row: a row of machinery is marked `detail` and shown folded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from projections.core import event_name
from projections.visit_timeline import how_words
from service.domain.alerts.working import HANDOVER_TEXT_WORDS
from service.domain.people.naming import person

CHANNEL_WORDS: Mapping[str, str] = {"sms": "text", "voice": "call"}
TAKEN_VIA: Mapping[str, str] = {
    "console": "in the console",
    "api": "through the API",
    "sms": "by text",
    "voice": "by key press on the call",
}
OUTCOME_WORDS: Mapping[str, str] = {
    "safe": "safe",
    "false_alarm": "false alarm",
    "emergency_services_called": "emergency services called",
    "other": "other",
}
"""How an alert was resolved (`Outcome`), as the record's row and its panel both say it.
(An overdue step, and what reception found at the pupil's home, are worded where the
visit's events are: projections/visit_timeline.py, for the row and the panel alike.)"""


def outcome_words(outcome: object) -> str:
    """'false_alarm' -> 'false alarm'; no outcome -> ''; one not listed, as recorded."""
    text = str(outcome or "")
    return OUTCOME_WORDS.get(text, text.replace("_", " "))


TEXT_CHANNEL_WORDS: Mapping[bool, tuple[str, str]] = {
    False: ("text received", "by text"),
    True: ("the phone app's message read as a text", "to the phone app"),
}
"""A visitor's text and the way its reply went back: by SMS (False), from the app (True)."""
# The outbox's machinery: true, kept, but not what a reader of the record is looking for.
DETAIL_EVENTS = frozenset(
    {"Notification.AttemptStarted", "Alert.Notified", "Notification.Unconfirmed"}
)


DELIVERY_WORDS: Mapping[str, str] = {
    "requested": "asked for, not yet sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "not delivered",
    "no_answer": "no answer",
    "answered": "answered",
    "completed": "answered",
    "busy": "busy",
    "failed": "failed",
    "voicemail": "went to voicemail",
    "machine": "answered by a machine",
    "refused": "refused by the provider",
    "cancelled": "not sent (no longer needed)",
    "unknown": "outcome unknown",
}


def delivery_outcome(notification: Mapping[str, Any]) -> str:
    """A message's final outcome as the notifier's recorded events leave it: the provider's
    last report ("no answer") over the outbox's state ("sent" only says it was handed over)."""
    state = str(notification.get("state") or "")
    if state == "cancelled":
        return DELIVERY_WORDS["cancelled"]
    if notification.get("refusal") or state == "refused":
        return DELIVERY_WORDS["refused"]
    if state == "failed":
        return f"failed ({notification.get('error') or 'no reason given'})"
    code = str(notification.get("delivery") or state)
    return DELIVERY_WORDS.get(code, code.replace("_", " ") or "asked for")


def message_label(step: str | None) -> str:
    """Which message of the escalation a send was: `tier1` -> 'first notice', `renotify2`
    -> 'reminder 2', `tier2` -> 'tier 2', `taken` -> 'told who took it'."""
    text = str(step or "")
    tier = re.fullmatch(r"tier(\d+)", text)
    again = re.fullmatch(r"renotify(\d+)", text)
    if tier:
        return "first notice" if tier.group(1) == "1" else f"tier {tier.group(1)}"
    if again:
        return f"reminder {again.group(1)}"
    if text == "taken":
        return "told who took it"
    return text.replace("_", " ")


def visit_address(alert: Mapping[str, Any]) -> str | None:
    """Where the visit was that the visitor was out on when the alarm was raised, as the
    alert's own recorded cause names it (an alarm away from any visit names none)."""
    visit = (alert.get("visit") or {}).get("address")
    return str(visit or (alert.get("cause") or {}).get("visit_address") or "") or None


TIER_ROLE_WORDS: Mapping[str, str] = {
    "contact_centre": "the contact centre",
    "dsl": "the DSL",
    "headteacher": "the headteacher",
    "slt": "senior leaders (SLT)",
}
PLAN_NAMES: Mapping[str, str] = {
    "sos": "SOS",
    "duress": "duress",
    "fall": "fall",
    "overdue": "overdue",
    "concern": "safeguarding concern",
    "notification_failure": "failed message",
    "default": "default",
}
_PLAN = re.compile(r"^policy (\w+): ")
_TIER = re.compile(r"\btier (\d+) \(([\w, ]+)\)")
_SECONDS = re.compile(r"\b(\d+)s\b")
_PLAN_PHRASES: tuple[tuple[str, str], ...] = (
    (
        r"\(renotify_every (\d+)s; reminders back off per person\)",
        r"(reminders every \1 s, spaced further apart for each person reminded)",
    ),
    (r"\(ack_within (\d+)s per tier\)", r"(each tier is given \1 s to take it)"),
    (r"re-notify round (\d+): no acknowledgement", r"reminder \1: nobody had taken it"),
    (r"added: no acknowledgement within", "added: nobody had taken it within"),
    (
        r"^the visit's overdue ladder escalates it \((.*?)\); the overdue policy names no tiers$",
        r"escalated by the visit's own overdue steps (\1)",
    ),
)


def _roles(roles: str) -> str:
    words = [TIER_ROLE_WORDS.get(r.strip(), r.strip().replace("_", " ")) for r in roles.split(",")]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _plan_head(name: str, kind: str | None) -> str:
    """'Escalation plan for an SOS: ', saying so when a duress alert follows the SOS plan."""
    words = PLAN_NAMES.get(name, name.replace("_", " "))
    follows = ""
    if kind and kind != name and name in ("sos", "default"):
        own = PLAN_NAMES.get(kind, kind.replace("_", " "))
        follows = f" (a {own} alert follows it: the school names no {own} plan)"
    article = "an" if words[0] in "aeiouAEIOUS" else "a"
    return f"Escalation plan for {article} {words}{follows}: "


def _tier_words(tier: int | str, roles: str) -> str:
    """'first the contact centre'; 'tier 2 (the DSL)'."""
    return f"first {_roles(roles)}" if str(tier) == "1" else f"tier {tier} ({_roles(roles)})"


def plan_words(reason: str, kind: str | None = None) -> str:
    """An escalation step's recorded reason in a reader's words: 'policy sos: tier 1
    (contact_centre)' -> 'Escalation plan for an SOS: tier 1, the contact centre'. A duress
    alert that followed the SOS plan says so. Read-side only: the stored reason is kept as
    recorded, and a reason in no known shape reads as it was stored. For steps recorded
    before they carried their values (`step_plan_words` words those)."""
    text = reason
    plan = _PLAN.match(text)
    if plan:
        text = _plan_head(plan.group(1), kind) + text[plan.end() :]
    for pattern, replacement in _PLAN_PHRASES:
        text = re.sub(pattern, replacement, text)
    text = _TIER.sub(lambda m: _tier_words(m.group(1), m.group(2)), text)
    text = text.replace(" told at once (", ", told at once (")
    return _SECONDS.sub(r"\1 s", text) if plan else text


def step_plan_words(reason: str, said: Mapping[str, Any] | None, kind: str | None = None) -> str:
    """An escalation step in a reader's words, from the values it was recorded with (its
    `plan`: service/domain/alerts/ladder_state.py); a step recorded without them, or of a
    shape not known here, from its reason (`plan_words`). Both read alike."""
    what = (said or {}).get("step")
    if not said or what not in ("first", "reminder", "tier"):
        return plan_words(reason, kind)
    roles = ", ".join(said.get("roles") or ())
    if what == "first":
        text = _tier_words(1, roles)
        if said.get("at_once"):
            called = "; called too: a red alert" if said.get("called") else ""
            text += f", told at once (texted with the alert{called})"
    elif what == "reminder":
        text = (
            f"reminder {said['round']}: nobody had taken it {said['after_s']} s after the alert "
            f"(reminders every {said['every_s']} s, spaced further apart for each person reminded)"
        )
        held = [
            f"{h['who']} {h['channel']} until {_utc(h['until'])}" for h in said.get("held") or ()
        ]
        if held:
            text += f"; held back by rate limits: {', '.join(held)}"
    else:
        tier = int(said["tier"])
        why = (
            f"nobody tier {tier - 1} added can be reached (refused or none): not waiting"
            if said.get("stranded")
            else f"nobody had taken it within {said['after_s']} s "
            f"(each tier is given {said['ack_within_s']} s to take it)"
        )
        text = f"{_tier_words(tier, roles)} added: {why}"
    return _plan_head(str(said["policy"]), kind) + text


def _utc(at: Any) -> str:
    """'07:35:32 UTC', as the ladder words a time (the record then says it locally)."""
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return f"{moment.astimezone(UTC):%H:%M:%S} UTC"


def said_words(event: Any) -> str:
    """What a requested message said, as recorded ('; it said: "LONEWATCH ..."'): the body
    is built without the safe word or a pupil's reference (escalation.alert_message), so a
    record may print it. A request stored without a body says nothing more."""
    body = str(getattr(event, "body", "") or "").strip()
    return f'; it said: "{body}"' if body else ""


def source_words(source: str) -> str:
    """The timeline's source column in words: `policy:tier2` -> `escalation, tier 2`."""
    kind, _, step = source.partition(":")
    if kind == "policy":
        tier = re.fullmatch(r"tier(\d+)", step)
        again = re.fullmatch(r"renotify(\d+)", step)
        if tier:
            return f"escalation, tier {tier.group(1)}"
        if again:
            return f"escalation, reminder {again.group(1)}"
        return f"escalation ({step.replace('_', ' ')})" if step else "escalation"
    if kind == "device" and step:
        return f"device {step}"
    return person(source)


class Narrator:
    """Words each event of one record, remembering what earlier events said (a try names
    no one; the request it belongs to does), so it must see the events in recorded order."""

    def __init__(self) -> None:
        self._notifications: dict[str, tuple[str, str]] = {}
        self._contacts: dict[str, str] = {}
        self._kind: str | None = None
        self._texts: dict[str, str] = {}  # a text's id -> how its reply went back

    def plan(self, reason: str, said: Mapping[str, Any] | None = None) -> str:
        """An escalation step in words (from its recorded values, else its reason), for the
        kind of alert this record is about."""
        return step_plan_words(reason, said, self._kind)

    def _text_words(self, event: Any, name: str) -> tuple[str, str, bool]:
        """A visitor's text and the reply it got: words as stored, so a safe word reads
        `[redacted]` (it is masked before anything is stored)."""
        if name == "InboundSms.Received":
            app = str(event.message_sid).startswith("app:")
            self._texts[str(event.originator_id)] = TEXT_CHANNEL_WORDS[app][1]
            return event.who, f'{TEXT_CHANNEL_WORDS[app][0]}: "{event.text}"', False
        back = self._texts.get(str(event.originator_id), "by text")
        return "system", f'reply sent {back}: "{event.reply}"', False

    def words(self, event: Any) -> tuple[str, str, bool] | None:
        """(source, summary, detail) for the events this module words; None for the rest."""
        name = event_name(event)
        if name == "Alert.Raised":
            self._kind = str(getattr(event.kind, "value", event.kind))
            return None
        if name in ("InboundSms.Received", "InboundSms.Replied"):
            return self._text_words(event, name)
        if name == "Notification.Requested":
            channel = CHANNEL_WORDS.get(event.channel, event.channel)
            self._notifications[str(event.originator_id)] = (event.contact_name, channel)
            self._contacts[event.contact] = event.contact_name
            return (
                f"policy:{event.step}",
                f"{channel} to {event.contact_name} ({event.to}) requested: "
                f"{self.plan(event.reason, getattr(event, 'plan', None))}{said_words(event)}",
                False,
            )
        if name == "Alert.Notified":
            who = self._contacts.get(event.contact, event.contact)
            return "provider", f"{who} told (the provider accepted the message)", True
        if name == "Alert.Acknowledged":
            how = TAKEN_VIA.get(event.via, f"via {event.via}")
            return event.by, f"taken by {person(event.by)} {how}", False
        if name == "Alert.Resolved":
            return (
                event.by,
                f"resolved by {person(event.by)}: {outcome_words(event.outcome)} - "
                f"{how_words(event.note)}",
                False,
            )
        if name == "Alert.NoteAdded":
            return event.by, f"note by {person(event.by)}: {event.text}", False
        if name == "Alert.HandedOver":
            took = "took the alert over" if event.to == event.by else "handed the alert to"
            note = f" - {event.note}" if event.note else ""
            if event.to == event.by:
                return event.by, f"{person(event.by)} {took}{note}", False
            told = HANDOVER_TEXT_WORDS.get(getattr(event, "texted", None) or "")
            said = f"; {told}" if told else ""  # a handover stored before it said: as before
            return event.by, f"{person(event.by)} {took} {person(event.to)}{said}{note}", False
        if name == "Alert.DeliveryFailed":
            who = self._contacts.get(event.contact, event.contact)
            channel = CHANNEL_WORDS.get(event.channel, event.channel)
            return "provider", f"{channel} to {who} failed for good", False
        if not name.startswith("Notification."):  # a heartbeat's id is not turned to text
            return None
        whom = self._notifications.get(str(event.originator_id))
        if whom is None:
            return None
        contact, channel = whom
        if name == "Notification.AttemptStarted":
            return "outbox", f"{channel} to {contact}: try {event.attempt}", True
        if name == "Notification.Sent":
            return (
                "provider",
                f"{channel} to {contact} accepted by the provider (ref {event.provider_id})",
                False,
            )
        if name == "Notification.StatusReported":
            by = f", answered by {event.answered_by}" if event.answered_by else ""
            return (
                "provider",
                f"{channel} to {contact}: {event.status.replace('_', ' ')}{by}",
                False,
            )
        if name == "Notification.AttemptFailed":
            outcome = "gave up" if event.final else "will try again"
            return "provider", f"{channel} to {contact} failed ({event.error}); {outcome}", False
        if name == "Notification.Refused":
            return (
                "provider",
                f"{channel} to {contact} refused: {event.words}; not retried, "
                "not asked again on this alert",
                False,
            )
        if name == "Notification.Cancelled":
            return "outbox", f"{channel} to {contact} not sent: {event.reason}", True
        return None


def escalation_in_a_sentence(alert: Mapping[str, Any]) -> str:
    """'Texted 2 people and called 2; taken by A. Lead by key press after 47 s.'"""
    texted: set[str] = set()
    called: set[str] = set()
    for n in (alert.get("notifications") or {}).values():
        if n.get("state") == "cancelled":
            continue
        who = str(n.get("contact_name") or n.get("contact") or n.get("to"))
        (called if n.get("channel") == "voice" else texted).add(who)
    told = _told(len(texted), len(called))
    taken = alert.get("acknowledged_by")
    if not taken:
        return f"{told}; not taken by anyone yet." if told else "Nobody told yet."
    how = TAKEN_VIA.get(str(alert.get("acknowledged_via")), "")
    after = _after(alert.get("raised_at"), alert.get("acknowledged_at"))
    taken_words = " ".join(w for w in ("taken by", person(str(taken)), how, after) if w)
    return f"{told}; {taken_words}." if told else f"{taken_words[0].upper()}{taken_words[1:]}."


def _told(texted: int, called: int) -> str:
    def people(n: int) -> str:
        return f"{n} {'person' if n == 1 else 'people'}"

    if texted and called:
        return f"Texted {people(texted)} and called {called}"
    if texted:
        return f"Texted {people(texted)}"
    if called:
        return f"Called {people(called)}"
    return ""


def _after(start: Any, end: Any) -> str:
    if not start or not end:
        return ""
    seconds = (_instant(end) - _instant(start)).total_seconds()
    if seconds < 120:
        return f"after {seconds:.0f} s"
    return f"after {seconds // 60:.0f} min {seconds % 60:.0f} s"


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
