"""An incident record as a printable HTML page a DSL can attach to a safeguarding file.

Plain HTML with its own print styles: no script, no external resources, so it
opens and prints the same in ten years' time.
"""

from __future__ import annotations

import threading
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from projections.collector import collector_paused
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import location_of
from service.domain.people.directory import DEFAULT_TIMEZONE
from service.domain.people.naming import person
from service.records.bounded import let_go_oldest
from service.records.narrative import (
    CHANNEL_WORDS,
    delivery_outcome,
    escalation_in_a_sentence,
    message_label,
    source_words,
    visit_address,
)
from service.records.told_times import DAYS_KEPT, clock_words, day_words, forget_days

OUTCOMES = {
    "safe": "Safe",
    "false_alarm": "False alarm",
    "emergency_services_called": "Emergency services called",
    "other": "Other",
}


def _when(value: Any, zone: ZoneInfo) -> str:
    if value in (None, ""):
        return "—"
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = instant.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M:%S} {local.tzname()}"


def _e(value: Any) -> str:
    return escape("—" if value in (None, "") else str(value))


_APART = "\x00"
"""What `_all_e` joins texts with: `escape` leaves it be, and no stored text holds it."""


def _all_e(values: list[str]) -> list[str]:
    """`_e` of each of many texts in one pass of `escape` over them all (a record's 10,000
    stream ids and seals were 20,000 calls of five replaces each)."""
    texts = ["—" if value in (None, "") else str(value) for value in values]
    joined = _APART.join(texts)
    if joined.count(_APART) != len(texts) - 1:
        return [escape(text) for text in texts]
    return escape(joined).split(_APART) if texts else []


WHEN_KEPT = 20_000
"""Instants kept told (the oldest go first): two records of 10,000 events."""
_WHEN: dict[tuple[Any, ZoneInfo], str] = {}
_WHEN_LOCK = threading.Lock()


def _when_e(value: Any, zone: ZoneInfo) -> str:
    """`_e(_when(value, zone))`, kept by the instant and the zone: an event's recorded time
    is told the same way in every export of its record."""
    (found,) = _all_when_e([value], zone)
    return found


def _all_when_e(values: list[Any], zone: ZoneInfo) -> list[str]:
    """`_when_e` of each of many instants, those told afresh kept under one taking of the
    lock (a record's first export told 10,000: one taking each was ~3 ms)."""
    told: list[str] = []
    made: dict[tuple[Any, ZoneInfo], str] = {}
    for value in values:
        key = (value, zone)
        found = _WHEN.get(key) or made.get(key)
        if found is None:
            found = made[key] = _told_afresh(value, zone)
        told.append(found)
    if made:
        with _WHEN_LOCK:
            _WHEN.update(made)
            let_go_oldest(_WHEN, WHEN_KEPT)
    return told


_ESCAPED: dict[str | None, str] = {}
"""Days' words and zones' abbreviations (`BST`, `GMT`), escaped: a few per record."""


def _told_afresh(value: Any, zone: ZoneInfo) -> str:
    """`_e(_when(value, zone))`, told as `told_times` tells it (each local day's words once:
    a record's first export told 10,000 instants through `strftime`, ~1.6 µs each). Escaped
    in parts (escaping works character by character, and digits, spaces and colons need
    none): the day's words and the zone's name once each, not every instant's whole text
    (~0.7 µs each)."""
    if not isinstance(value, datetime):
        return _e(_when(value, zone))
    local = value.astimezone(zone)
    day, name = day_words(local), local.tzname()
    said = _ESCAPED.get(day)
    if said is None:
        if len(_ESCAPED) >= DAYS_KEPT:
            _ESCAPED.clear()
        said = _ESCAPED[day] = escape(day)
    named = _ESCAPED.get(name)
    if named is None:
        named = _ESCAPED[name] = escape(str(name))
    return f"{said} {clock_words(local)} {named}"


def forget_told_times() -> None:
    """Tell every recorded time afresh from now on, as a process's first export does
    (`benchmarks/replay.py`'s cold export)."""
    with _WHEN_LOCK:
        _WHEN.clear()
        _ESCAPED.clear()
        forget_days()


def _told(n: dict[str, Any]) -> str:
    """One row of 'Who was told': who, how, which message, and its final outcome."""
    channel = CHANNEL_WORDS.get(str(n.get("channel")), n.get("channel"))
    label = message_label(n.get("step"))
    which = f", {label}" if label else ""
    return (
        f"<li>{_e(n.get('contact_name'))} ({_e(channel)} to {_e(n.get('to'))}"
        f"{escape(which)}): {_e(delivery_outcome(n))}</li>"
    )


def _summary(subject: dict[str, str], state: dict[str, Any] | None, zone: ZoneInfo) -> str:
    alert = (state or {}).get("alert")
    if not alert:
        device = (state or {}).get("device")
        if device:
            rows = [
                ("Device", device.get("id")),
                ("Carried by", device.get("staff_name")),
                ("Last seen", _when(device.get("last_seen"), zone)),
                ("Battery", f"{device['battery']}%" if device.get("battery") is not None else None),
            ]
        else:
            rows = [(k.title(), v) for k, v in subject.items()]
        return _table(rows)
    notified = "".join(_told(n) for n in (alert.get("notifications") or {}).values())
    # The alarm's own location (what its SMS said), else the device's last one at the time.
    location = (alert.get("cause") or {}).get("location") or alert.get("location") or {}
    rows = [
        ("Alert", f"{str(alert.get('kind', '')).upper()} · code {alert.get('short_code')}"),
        ("Alert id", alert.get("id")),
        ("Severity", alert.get("severity")),
        ("School", alert.get("school_name") or alert.get("school")),
        ("Visitor", alert.get("staff_name") or alert.get("staff")),
        ("Device", alert.get("device")),
        ("Address", alert.get("address") or visit_address(alert)),
        ("Last known location", describe_location(location_of(location) or location)),
        ("Raised", _when(alert.get("raised_at"), zone)),
        ("Escalation", escalation_in_a_sentence(alert)),
        (
            "Taken",
            f"{_when(alert.get('acknowledged_at'), zone)} by {person(alert['acknowledged_by'])}"
            if alert.get("acknowledged_by")
            else None,
        ),
        (
            "Resolved",
            f"{_when(alert.get('resolved_at'), zone)} by {person(alert['resolved_by'])}"
            if alert.get("resolved_by")
            else None,
        ),
        ("Outcome", OUTCOMES.get(str(alert.get("outcome")), alert.get("outcome"))),
        ("Note", alert.get("note")),
    ]
    html = _table(rows)
    if notified:
        html += f"<h3>Who was told</h3><ul>{notified}</ul>"
    return html


def _rows(numbered: list[tuple[int, dict[str, Any]]], zone: ZoneInfo) -> str:
    # A device's 10,000 heartbeats say the same few things: each text escaped once.
    escaped: dict[Any, str] = {}

    def once(value: Any) -> str:
        found = escaped.get(value)
        if found is None:
            found = escaped[value] = _e(value)
        return found

    told = _all_when_e([row["recorded_at"] for _, row in numbered], zone)
    return "".join(
        "<tr>"
        f"<td>{i}</td><td>{when}</td>"
        f"<td>{once(row.get('who') or source_words(row['source']))}</td>"
        f"<td>{once(row['summary'])}</td>"
        f"<td>{'✓' if row.get('sealed') else '✗ altered'}</td>"
        "</tr>"
        for (i, row), when in zip(numbered, told, strict=True)
    )


def _events_table(rows: str) -> str:
    return (
        '<table class="events"><thead><tr><th scope="col">#</th><th scope="col">Recorded at</th>'
        '<th scope="col">Who or what</th><th scope="col">What happened</th>'
        f'<th scope="col">Seal</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th scope='row'>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table class='facts'>{body}</table>"


def _integrity(check: dict[str, Any]) -> str:
    if check["verified"]:
        verdict = (
            f"<p class='ok'><strong>Record verified.</strong> All {check['events']} stored events "
            f"in {check['streams']} streams carry seals that recompute from their content: "
            "nothing has been altered, removed or re-ordered since it was recorded.</p>"
        )
    else:
        problems = "".join(
            f"<li>stream {_e(p['aggregate_id'])}: {_e(p['detail'])}</li>" for p in check["problems"]
        )
        verdict = (
            "<p class='bad'><strong>Integrity check FAILED.</strong> The stored record does not "
            f"match its seals; treat this record as altered.</p><ul>{problems}</ul>"
        )
    streams = _all_e(list(check["heads"]))
    seals = _all_e(list(check["heads"].values()))
    heads = "".join(
        f"<li><code>{stream}</code> <code>{head}</code></li>"
        for stream, head in zip(streams, seals, strict=True)
    )
    return (
        f"{verdict}<details><summary>Last seal of each stream (compare with a later export)"
        f"</summary><ul class='heads'>{heads}</ul></details>"
    )


def _signed_head(merkle: dict[str, Any] | None) -> str:
    """The signed tree head the record's events are proven under (service/records/proofs.py)."""
    head = (merkle or {}).get("head")
    if not head:
        return ""
    signed = datetime.fromtimestamp(int(head["timestamp_ms"]) / 1000, ZoneInfo("UTC"))
    return (
        f"<p>Every event above is one of the {_e(head['tree_size'])} events of the whole record "
        f"under the tree head signed {_e(signed.isoformat(timespec='seconds'))} by key "
        f"<code>{_e(head['key_id'])}</code>, root <code>{_e(head['root_hash'])}</code>. The JSON "
        "export carries each event's inclusion proof: <code>lonewatch verify --export FILE</code> "
        "checks it offline.</p>"
    )


def render_html(
    record: dict[str, Any],
    *,
    exported_by: str,
    exported_at: datetime,
    access_id: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> str:
    """The printable page of a record made by `incident_record`. The cycle collector is
    paused while it is made, as it is while the record is: the page is 20,000 new texts
    with no cycle among them, and the collector's passes over a just-read record's 10,000
    events while they were made were half a cold page's CPU (~55 of ~100 ms)."""
    with collector_paused():
        return _page(
            record,
            exported_by=exported_by,
            exported_at=exported_at,
            access_id=access_id,
            timezone=timezone,
        )


def _page(
    record: dict[str, Any],
    *,
    exported_by: str,
    exported_at: datetime,
    access_id: str,
    timezone: str,
) -> str:
    zone = ZoneInfo(timezone)
    subject = record["subject"]
    alert = (record.get("state") or {}).get("alert")
    if alert:
        who = alert.get("staff_name") or alert.get("staff") or "no visitor"
        title = f"Incident record: {str(alert['kind']).upper()} alert {alert['short_code']} ({who})"
    else:
        title = "Incident record: " + ", ".join(f"{k} {v}" for k, v in subject.items())
    numbered = list(enumerate(record["events"], start=1))
    events = _rows([(i, row) for i, row in numbered if not row.get("detail")], zone)
    machinery = [(i, row) for i, row in numbered if row.get("detail")]
    appendix = (
        "<h2>Delivery in full</h2><p>Each try to send a message and each receipt from the "
        "provider, numbered in the same sequence as above (kept out of the main list so it "
        f"reads as what happened).</p>{_events_table(_rows(machinery, zone))}"
        if machinery
        else ""
    )
    as_of = (
        f"<p>As it stood at {_e(_when(record['as_of'], zone))}.</p>" if record.get("as_of") else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(title)}</title>
<style>
body {{ font: 11pt/1.45 system-ui, sans-serif; color: #111; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }}
h1 {{ font-size: 1.5rem; margin-bottom: .25rem; }}
h2 {{ font-size: 1.15rem; border-bottom: 2px solid #111; padding-bottom: .2rem; margin-top: 1.75rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #bbb; }}
.facts th {{ width: 13rem; }}
.ok {{ border-left: 6px solid #0a6b2d; background: #e8f5ec; padding: .6rem .8rem; }}
.bad {{ border-left: 6px solid #b00020; background: #fdecee; padding: .6rem .8rem; }}
code {{ font-size: 9pt; word-break: break-all; }}
footer {{ margin-top: 2rem; font-size: 9pt; color: #333; border-top: 1px solid #111; padding-top: .5rem; }}
@media print {{ body {{ margin: 0; max-width: none; }} details {{ display: block; }} a {{ color: inherit; }} }}
</style></head>
<body>
<header><p>Lonewatch · safeguarding record</p><h1>{_e(title)}</h1>{as_of}</header>
<h2>Summary</h2>
{_summary(subject, record.get("state"), zone)}
<h2>Integrity</h2>
{_integrity(record["integrity"])}{_signed_head(record.get("merkle"))}
<h2>What happened, in order</h2>
{_events_table(events)}
{appendix}
<footer>Exported by {_e(exported_by)} on {_e(_when(exported_at, zone))}
({_e(exported_at.isoformat())}). This export is itself recorded in Lonewatch's audit trail
as access {_e(access_id)}. Times are {_e(timezone)}.</footer>
</body></html>
"""
