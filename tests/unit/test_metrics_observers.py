"""The observers /metrics is fed by as things happen (service/workers/metrics.py)."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Histogram

from service.entrypoints.http.metrics import is_loopback
from service.workers.metrics import PRESSES_REMEMBERED, PressLatency


def latency() -> tuple[PressLatency, CollectorRegistry]:
    registry = CollectorRegistry()
    histogram = Histogram("press_seconds", "test", registry=registry)
    return PressLatency(histogram), registry


def observed(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("press_seconds_count") or 0.0


def test_an_alert_is_timed_once_at_its_first_request_whatever_else_it_asked_for() -> None:
    press, registry = latency()
    at = time.monotonic() - 0.25
    press.pressed([("alert-1", "sms-a"), ("alert-1", "sms-b"), ("alert-1", "call-a")], at)
    press.requested("sms-b")
    press.requested("sms-a")
    press.requested("call-a")
    assert observed(registry) == 1
    assert 0.25 <= (registry.get_sample_value("press_seconds_sum") or 0) < 5


def test_a_notification_no_press_asked_for_is_not_timed() -> None:
    press, registry = latency()
    press.requested("a-reminder")  # a tier-2 text, from a timer
    assert observed(registry) == 0


def test_what_waits_for_a_first_request_is_bounded() -> None:
    press, _ = latency()
    now = time.monotonic()
    for n in range(PRESSES_REMEMBERED + 50):
        press.pressed([(f"alert-{n}", f"n-{n}")], now)
    assert len(press._pressed) == PRESSES_REMEMBERED


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("192.0.2.2", False),
        ("fd00::2", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_only_the_machine_itself_scrapes_without_a_token(remote: str | None, local: bool) -> None:
    assert is_loopback(remote) is local
