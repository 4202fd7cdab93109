"""Alarm-handling figures (INTERFACES.md section 6), from the alert view documents alone.

Each alert document carries its receipt time (`raised_at`, the service's clock, which the
spec makes authoritative), its notifications with their request and delivery times, and who
acknowledged it when; the views are rebuilt from the events, so these figures are too.

- press to first notification: the first notification *requested* (the ladder's decision);
- press to first delivery: the first the provider *reported* delivered or answered by a person
  (never "sent": an SMS accepted by Twilio may never arrive; a voicemail is not an answer);
- press to acknowledgement: a person took it (key press, ACK text, console);
- shares within 10 s and 40 s: of all alarms that month (an alarm nobody took counts as late).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

BANDS = (10, 40)
"""BS 8484 answer-time bands, in seconds."""
PERCENTILES = (("median", 50.0), ("p80", 80.0), ("p98_5", 98.5))
SYSTEM_KINDS = frozenset({"notification_failed"})
"""Alerts the system raises about itself: shown, but not alarms in these figures."""
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(value: str | None) -> str | None:
    """'2026-11' when well formed, else None."""
    return value if value and _MONTH.match(value) else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a figure that happened)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"count": len(values)}
    for name, p in PERCENTILES:
        found = percentile(values, p)
        out[name] = None if found is None else round(found, 3)
    return out


def _seconds(later: str | None, earlier: datetime) -> float | None:
    if not later:
        return None
    return (datetime.fromisoformat(later) - earlier).total_seconds()


def _first(times: list[str | None]) -> str | None:
    present = [t for t in times if t]
    return min(present, key=datetime.fromisoformat) if present else None


def alarm_figures(alerts: list[dict[str, Any]], month: str) -> dict[str, Any]:
    """Figures per school for alerts raised in `month` ('YYYY-MM', UTC)."""
    by_school: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for alert in alerts:
        if alert.get("kind") in SYSTEM_KINDS or not str(alert.get("raised_at", "")).startswith(
            month
        ):
            continue
        by_school[str(alert.get("school"))].append(alert)
    return {
        "month": month,
        "schools": {school: _school_figures(docs) for school, docs in sorted(by_school.items())},
    }


def _school_figures(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    to_request: list[float] = []
    to_delivery: list[float] = []
    to_ack: list[float] = []
    overdue_tiers: Counter[int] = Counter()
    for alert in alerts:
        raised = datetime.fromisoformat(alert["raised_at"])
        notes = list((alert.get("notifications") or {}).values())
        for values, key in ((to_request, "requested_at"), (to_delivery, "delivered_at")):
            first = _seconds(_first([n.get(key) for n in notes]), raised)
            if first is not None:
                values.append(first)
        took = _seconds(alert.get("acknowledged_at"), raised)
        if took is not None:
            to_ack.append(took)
        if alert.get("kind") == "overdue":
            overdue_tiers[int((alert.get("escalation") or {}).get("tier") or 1)] += 1
    total = len(alerts)
    return {
        "alarms": total,
        "by_kind": dict(sorted(Counter(str(a["kind"]) for a in alerts).items())),
        "press_to_first_notification_s": _summary(to_request),
        "press_to_first_delivery_s": _summary(to_delivery),
        "press_to_acknowledgement_s": _summary(to_ack),
        **{
            f"acknowledged_within_{band}s": round(sum(t <= band for t in to_ack) / total, 4)
            for band in BANDS
        },
        "unacknowledged": total - len(to_ack),
        "false_alarms": sum(a.get("outcome") == "false_alarm" for a in alerts),
        "overdue": {
            "count": sum(overdue_tiers.values()),
            "highest_tier": {str(t): n for t, n in sorted(overdue_tiers.items())},
        },
    }
