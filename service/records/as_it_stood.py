"""The replay's "as it stood" panel in words: an alert, a visit, a device or a person's alerts
as they stood after one recorded event, told in sentences a DSL can read out at a case
review. Times are the school's local time with the zone; people are named as they are known;
an alert's escalation is one sentence, with who was told (grouped by person) one click away.

The replay's state documents (service/records/subject_states.py) are the input; nothing is
dropped from the record itself, which the timeline still lists event by event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from projections.visit_timeline import OUTCOME_WORDS as CALL_HOME_WORDS
from projections.visit_timeline import step_words
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import location_of
from service.domain.people.naming import person
from service.records.narrative import TAKEN_VIA, escalation_in_a_sentence, outcome_words
from service.records.told_times import clock_words, day_words

KINDS = {
    "sos": "SOS",
    "fall": "Fall",
    "duress": "Duress (safe word used)",
    "overdue": "Overdue visit",
    "device_offline": "Device offline",
    "low_battery": "Low battery",
    "notification_failed": "Notification failed",
    "arc_unreachable": "Alarm centre unreachable",
}
VISIT_STATES = {
    "planned": "Planned; not authorised yet.",
    "authorised": "Authorised; not signed out yet.",
    "departed": "Signed out{departed}; on the way to the property.",
    "arrived": "At the property since {arrived_at}.",
    "left": "Left the property at {left_at}; on the way back.",
    "returned": "Back at school since {returned_at}.",
    "reported": "Back, and the visit reported.",
    "closed": "Closed.",
    "cancelled": "Cancelled before sign-out: {cancelled_because}.",
}
DELIVERY = {
    "delivered": "delivered",
    "undelivered": "not delivered",
    "no_answer": "not answered",
    "answered": "answered",
    "busy": "busy",
    "failed": "failed",
    "voicemail": "went to voicemail",
    "sent": "sent",
}

ALERT_STATES = {"raised": "open", "acknowledged": "taken", "resolved": "resolved"}
MESSAGE_KINDS = {"checkin": "check-in", "sos": "SOS press", "fall": "fall"}
_REFS = re.compile(r" \((?:sms|voice|api|device)[:\s][^()]*\)")
"""A message's own reference in a recorded sentence ('(sms:SM4f...)'): not for a reader."""


def as_it_stood(state: Mapping[str, Any] | None, zone: ZoneInfo) -> dict[str, Any]:
    """{"headline", "lines", "escalation", "told"}: the subject in words (see the module)."""
    if not state:
        return _words("Nothing had been recorded yet.")
    if state.get("alert"):
        return alert_words(state["alert"], zone)
    if state.get("visit"):
        return visit_words(state["visit"], zone)
    if state.get("device"):
        return device_words(state["device"], zone)
    if "alerts" in state:
        alerts = state["alerts"]
        if not alerts:
            return _words("No alerts about this person by then.")
        lines = [
            f"{KINDS.get(a['kind'], a['kind'])} raised {_clock(a.get('raised_at'), zone)}: "
            f"{_alert_state(a)}."
            for a in alerts
        ]
        return _words(f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} by then", lines)
    return _words("Nothing of this record had been recorded yet at that point.")


def alert_words(alert: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    cause = alert.get("cause") or {}
    who = alert.get("staff_name") or alert.get("staff") or "no named visitor"
    via = f" from device {alert['device']}" if alert.get("device") else ""
    visit = (alert.get("visit") or {}).get("address") or cause.get("visit_address")
    lines = [
        f"Raised {_stamp(alert.get('raised_at'), zone)}{via}"
        + (f", on a home visit at {visit}." if visit else "."),
    ]
    location = location_of(cause.get("location") or {}) or cause.get("location") or {}
    where = describe_location(location)
    if where:
        said = "said it was at" if location.get("address") else "gave its position:"
        lines.append(f"The device {said} {where}.")
    if alert.get("presses", 1) and int(alert.get("presses") or 1) > 1:
        lines.append(f"Pressed {alert['presses']} times in all.")
    if alert.get("silent"):
        lines.append("Silent: nothing was sent to the visitor's phone or device.")
    if alert.get("acknowledged_by"):
        how = TAKEN_VIA.get(str(alert.get("acknowledged_via")), "")
        lines.append(
            f"Taken by {person(alert['acknowledged_by'])}"
            + (f" {how}" if how else "")
            + f" at {_clock(alert.get('acknowledged_at'), zone)}."
        )
    else:
        lines.append("Nobody had taken it yet.")
    if alert.get("resolved_by"):
        outcome = outcome_words(alert.get("outcome"))
        note = f' "{alert["note"]}"' if alert.get("note") else ""
        lines.append(
            f"Resolved by {person(alert['resolved_by'])} at "
            f"{_clock(alert.get('resolved_at'), zone)}: {outcome}.{note}"
        )
    return {
        "headline": f"{KINDS.get(alert.get('kind', ''), alert.get('kind'))} — {who}: "
        f"{_alert_state(alert)}",
        "lines": lines,
        "escalation": escalation_in_a_sentence(alert),
        "told": told_by_person(alert, zone),
    }


def told_by_person(alert: Mapping[str, Any], zone: ZoneInfo) -> list[str]:
    """'A. Lead (+441702000011): text delivered 09:01:02 GMT; call answered 09:01:05 GMT'."""
    people: dict[str, list[str]] = {}
    for n in (alert.get("notifications") or {}).values():
        who = f"{n.get('contact_name') or n.get('contact')} ({n.get('to')})"
        channel = "call" if n.get("channel") == "voice" else "text"
        if n.get("step") == "taken":
            channel = "text saying who took it"
        if n.get("state") == "cancelled":
            what = "not sent (no longer needed)"
        elif n.get("refusal") or n.get("state") == "refused":
            what = "refused by the provider"
        elif n.get("state") == "failed":
            what = f"failed ({n.get('error') or 'no reason given'})"
        else:
            what = DELIVERY.get(str(n.get("delivery") or n.get("state")), "asked for")
        when = n.get("status_at") or n.get("sent_at") or n.get("requested_at")
        people.setdefault(who, []).append(f"{channel} {what} {_clock(when, zone)}")
    return [f"{who}: {'; '.join(items)}" for who, items in people.items()]


def visit_words(visit: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    names = " and ".join(visit.get("staff_names") or visit.get("staff") or []) or "nobody"
    lone = "A lone visit" if visit.get("lone") else "A paired visit"
    purpose = str(visit.get("purpose") or "").replace("_", " ")
    at = _clock
    lines = [
        f"{lone} by {names} to {visit.get('address')} (pupil {visit.get('pupil_ref')}; "
        f"purpose: {purpose}) on {_day(visit.get('planned_start'), zone)}.",
        f"Planned by {person(visit.get('planned_by'))}: start {at(visit.get('planned_start'), zone)}, "
        f"leave the property by {at(visit.get('expected_leave'), zone)}, "
        f"back by {at(visit.get('expected_return'), zone)}.",
    ]
    if visit.get("risk_assessed"):
        lines.append(f"Risk assessed; the highest risk rated {visit.get('highest_risk', 'low')}.")
    if visit.get("authorised_by"):
        why = visit.get("headteacher_needed")
        lines.append(
            f"Authorised by {person(visit['authorised_by'])}"
            + (f"; the headteacher's approval was needed because {why}." if why else ".")
        )
    times = {k: at(visit.get(k), zone) for k in ("arrived_at", "left_at", "returned_at")}
    departed = f" at {at(visit['departed_at'], zone)}" if visit.get("departed_at") else ""
    state = VISIT_STATES.get(str(visit.get("state")), str(visit.get("state")))
    lines.append(
        state.format(
            departed=departed, cancelled_because=visit.get("cancelled_because") or "", **times
        )
    )
    lines += _visit_watch(visit, zone)
    return _words(f"{names} — {visit.get('address')}", lines)


def _visit_watch(visit: Mapping[str, Any], zone: ZoneInfo) -> list[str]:
    """The device, the overdue ladder, the alerts and the report, as far as they had gone."""
    lines: list[str] = []
    if visit.get("device"):
        heard = visit.get("last_heartbeat")
        battery = f", battery {visit['battery']}%" if visit.get("battery") is not None else ""
        silent = visit.get("offline_after")
        lines.append(
            f"Carrying SOS device {visit['device']}"
            + (f", last heard at {_clock(heard, zone)}{battery}" if heard else "")
            + (
                f"; treated as silent after {_duration(silent)} without a message."
                if silent
                else "."
            )
        )
    if visit.get("overdue"):
        step = visit.get("overdue_step") or {}
        lines.append(
            f"Overdue since {_clock(visit.get('overdue_since'), zone)}"
            + (
                f": the overdue ladder is at step {step['step']} "
                f"({step_words(str(step.get('action')))})."
                if step
                else "."
            )
        )
    decision = (visit.get("overdue_step") or {}).get("decision")
    if decision:
        told = "SLT were informed" if decision.get("inform") else "SLT were not informed"
        lines.append(f"{told}: {decision.get('because')}.")
    call = visit.get("call_home")
    if call:
        lines.append(
            f"Reception rang the pupil's home ({person(call.get('by'))}, "
            f"{_clock(call.get('at'), zone)}): {CALL_HOME_WORDS.get(str(call.get('outcome')), 'done')}."
        )
    ended = visit.get("ladder_ended")
    if ended:
        how = _REFS.sub("", str(ended.get("how") or "contact made"))
        lines.append(
            f"The overdue ladder was ended by {named(ended.get('by'), visit)} at "
            f"{_clock(ended.get('at'), zone)} after {ended.get('steps_taken')} step(s): {how}."
        )
    for alert in visit.get("alerts") or []:
        lines.append(
            f"{KINDS.get(alert['kind'], alert['kind'])} alert raised "
            f"{_clock(alert.get('raised_at'), zone)} during the visit: "
            f"{ALERT_STATES.get(str(alert.get('state')), alert.get('state'))}."
        )
    if visit.get("outcome"):
        concern = (
            " A safeguarding concern was reported."
            if visit.get("safeguarding_concern")
            else " No safeguarding concern."
        )
        lines.append(f"Reported: {str(visit['outcome']).replace('_', ' ')}.{concern}")
    return lines


def device_words(device: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    lines = []
    if device.get("staff_name"):
        lines.append(f"Carried by {device['staff_name']}.")
    if device.get("last_seen"):
        battery = f", battery {device['battery']}%" if device.get("battery") is not None else ""
        lines.append(
            f"Last heard {_stamp(device['last_seen'], zone)} "
            f"({device.get('last_kind') or 'a message'!s}){battery}."
        )
    where = describe_location(device.get("location"))
    if where:
        lines.append(f"Last known location: {where}.")
    counts = device.get("counts") or {}
    if counts:
        said = ", ".join(
            f"{n} {MESSAGE_KINDS.get(kind, kind)}{'s' if n != 1 else ''}"
            for kind, n in sorted(counts.items(), key=lambda item: -item[1])
        )
        lines.append(f"Messages so far: {said}.")
    return _words(f"Device {device.get('id')}", lines)


def named(actor: Any, visit: Mapping[str, Any]) -> str:
    """A visitor by name ('Rob Ross'), anyone else as `person` words them."""
    names = dict(zip(visit.get("staff") or [], visit.get("staff_names") or [], strict=False))
    role, _, who = str(actor or "").partition(":")
    return str(names[who]) if role == "staff" and who in names else person(actor)


def _alert_state(alert: Mapping[str, Any]) -> str:
    if alert.get("state") == "resolved" or alert.get("resolved_by"):
        outcome = outcome_words(alert.get("outcome"))
        return f"resolved ({outcome})" if outcome else "resolved"
    if alert.get("acknowledged_by") or alert.get("state") == "acknowledged":
        return "taken, not yet resolved"
    return "open, not taken"


def _words(headline: str, lines: list[str] | None = None) -> dict[str, Any]:
    return {"headline": headline, "lines": lines or [], "escalation": None, "told": []}


def _local(value: Any, zone: ZoneInfo) -> datetime | None:
    if value in (None, ""):
        return None
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant.astimezone(zone)


def _clock(value: Any, zone: ZoneInfo) -> str:
    """'09:01:02 GMT'."""
    local = _local(value, zone)
    return f"{clock_words(local)} {local.tzname()}" if local else "an unrecorded time"


def _stamp(value: Any, zone: ZoneInfo) -> str:
    """'on Mon 23 Nov 2026 at 09:01:02 GMT' (a device's every row says it: told_times.py)."""
    local = _local(value, zone)
    if not local:
        return ""
    return f"on {day_words(local)} at {clock_words(local)} {local.tzname()}"


def _day(value: Any, zone: ZoneInfo) -> str:
    local = _local(value, zone)
    return f"{local:%A %d %B %Y}" if local else "an unrecorded day"


def _duration(seconds: Any) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
