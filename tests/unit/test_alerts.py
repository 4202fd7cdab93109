"""Alert rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.alerts.alert import Alert, AlertState, Outcome, parse_outcome
from service.domain.errors import DomainError, InvalidTransition

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def an_sos() -> Alert:
    return Alert(
        key="message:1",
        kind="sos",
        school="lancaster",
        device="sos-0001",
        staff="s-jones",
        cause={},
        timestamp=T0,
    )


def test_an_sos_is_red_and_raised_at_the_injected_time() -> None:
    alert = an_sos()
    assert alert.severity.value == "red"
    assert alert.state is AlertState.RAISED
    assert alert.raised_at == T0


def test_the_same_cause_gives_the_same_alert_id() -> None:
    assert an_sos().id == an_sos().id


def test_acknowledging_records_who_and_when() -> None:
    alert = an_sos()
    alert.acknowledge(by="operator:r1", via="api", timestamp=T0 + timedelta(seconds=8))
    assert alert.state is AlertState.ACKNOWLEDGED
    assert alert.acknowledged_by == "operator:r1"
    assert alert.acknowledged_at == T0 + timedelta(seconds=8)


def test_an_alert_is_taken_once() -> None:
    alert = an_sos()
    alert.acknowledge(by="operator:r1", via="api", timestamp=T0)
    with pytest.raises(InvalidTransition, match="already acknowledged by operator:r1"):
        alert.acknowledge(by="operator:r2", via="api", timestamp=T0)


def test_resolution_needs_a_note() -> None:
    """Resolution needs an outcome (safe, false alarm, emergency services called, other) and a note."""
    alert = an_sos()
    with pytest.raises(DomainError, match="note"):
        alert.resolve(outcome=Outcome.SAFE, note="  ", by="dsl:d", timestamp=T0)
    assert alert.state is AlertState.RAISED


def test_resolving_an_unacknowledged_alert_records_the_acknowledgement_first() -> None:
    alert = an_sos()
    alert.resolve(outcome=Outcome.FALSE_ALARM, note="pocket press", by="dsl:d", timestamp=T0)
    names = [type(e).__name__ for e in alert.pending_events]
    assert names == ["Raised", "Acknowledged", "Resolved"]
    assert alert.state is AlertState.RESOLVED and alert.outcome is Outcome.FALSE_ALARM


def test_a_resolved_alert_cannot_be_acknowledged_or_resolved_again() -> None:
    alert = an_sos()
    alert.resolve(outcome=Outcome.SAFE, note="fine", by="dsl:d", timestamp=T0)
    with pytest.raises(InvalidTransition):
        alert.acknowledge(by="x", via="api", timestamp=T0)
    with pytest.raises(InvalidTransition):
        alert.resolve(outcome=Outcome.SAFE, note="again", by="x", timestamp=T0)


def test_outcomes_are_a_closed_set_with_a_helpful_refusal() -> None:
    assert parse_outcome("emergency_services_called") is Outcome.EMERGENCY_SERVICES_CALLED
    with pytest.raises(DomainError, match="safe, false_alarm"):
        parse_outcome("fine")


def test_notified_moves_raised_to_notified_only() -> None:
    from uuid import uuid4

    alert = an_sos()
    alert.record_notified(notification_id=uuid4(), contact="cc-1", timestamp=T0)
    assert alert.state is AlertState.NOTIFIED
    alert.acknowledge(by="r", via="api", timestamp=T0)
    alert.record_notified(notification_id=uuid4(), contact="cc-2", timestamp=T0)
    assert alert.state is AlertState.ACKNOWLEDGED
