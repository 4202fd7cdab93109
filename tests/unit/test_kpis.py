"""Alarm-handling figures (INTERFACES.md section 6) from alert documents."""

from __future__ import annotations

from typing import Any

from service.records.kpis import alarm_figures, parse_month, percentile


def alert(
    school: str, raised: str, ack: str | None, *, kind: str = "sos", **extra: Any
) -> dict[str, Any]:
    return {
        "school": school,
        "kind": kind,
        "raised_at": f"2026-11-23T09:00:{raised}+00:00",
        "acknowledged_at": f"2026-11-23T09:00:{ack}+00:00" if ack else None,
        "notifications": extra.pop("notifications", {}),
        **extra,
    }


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 201)], 98.5) == 197.0


def test_shares_within_10_and_40_seconds_count_unanswered_alarms_as_late() -> None:
    """BS 8484: 80% taken within 10 s, 98.5% within 40 s."""
    docs = [
        alert("a", "00", "05"),
        alert("a", "00", "30", outcome="false_alarm"),
        alert("a", "00", None),
        alert("a", "00", "08", kind="notification_failed"),  # about us, not an alarm
        alert("b", "00", "09"),
        {**alert("a", "00", "01"), "raised_at": "2026-10-31T23:59:59+00:00"},  # not this month
    ]
    figures = alarm_figures(docs, "2026-11")
    a = figures["schools"]["a"]
    assert (a["alarms"], a["unacknowledged"], a["false_alarms"]) == (3, 1, 1)
    assert a["acknowledged_within_10s"] == round(1 / 3, 4)
    assert a["acknowledged_within_40s"] == round(2 / 3, 4)
    assert a["press_to_acknowledgement_s"] == {
        "count": 2,
        "median": 5.0,
        "p80": 30.0,
        "p98_5": 30.0,
    }
    assert figures["schools"]["b"]["acknowledged_within_10s"] == 1.0


def test_first_delivery_is_a_delivery_report_never_sent() -> None:
    notes = {
        "n1": {
            "requested_at": "2026-11-23T09:00:00.200000+00:00",
            "sent_at": "x",
            "delivered_at": None,
        },
        "n2": {
            "requested_at": "2026-11-23T09:00:01+00:00",
            "delivered_at": "2026-11-23T09:00:04+00:00",
        },
    }
    figures = alarm_figures([alert("a", "00", None, notifications=notes)], "2026-11")["schools"][
        "a"
    ]
    assert figures["press_to_first_notification_s"]["median"] == 0.2
    assert figures["press_to_first_delivery_s"]["median"] == 4.0


def test_the_month_must_be_yyyy_mm() -> None:
    assert parse_month("2026-11") == "2026-11"
    assert parse_month("2026-13") is None and parse_month(None) is None
