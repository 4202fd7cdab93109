"""Device policy rules, each stated as the policy says it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.devices.health import (
    battery_low,
    device_offline,
    device_offline_alert_due,
    low_battery_alert_due,
    press_joins_alert,
    pressed_again_due,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
THREE_MINUTES = timedelta(seconds=180)


@pytest.mark.parametrize(
    ("battery", "threshold", "low"),
    [(19, 20, True), (20, 20, False), (80, 20, False), (None, 20, False), (5, None, False)],
)
def test_low_battery_below_20_means_under_20(
    battery: int | None, threshold: int | None, low: bool
) -> None:
    assert battery_low(battery, threshold) is low


def test_a_low_battery_alert_only_while_the_holder_is_on_a_visit() -> None:
    assert low_battery_alert_due(10, 20, holder_on_visit=True)
    assert not low_battery_alert_due(10, 20, holder_on_visit=False)
    assert not low_battery_alert_due(50, 20, holder_on_visit=True)


def test_offline_after_180s_of_silence() -> None:
    assert not device_offline(NOW - timedelta(seconds=180), NOW, THREE_MINUTES)
    assert device_offline(NOW - timedelta(seconds=181), NOW, THREE_MINUTES)
    assert device_offline(None, NOW, THREE_MINUTES)


def test_a_device_offline_alert_only_while_the_holder_is_on_a_visit() -> None:
    silent = NOW - timedelta(minutes=10)
    assert device_offline_alert_due(silent, NOW, THREE_MINUTES, holder_on_visit=True)
    assert not device_offline_alert_due(silent, NOW, THREE_MINUTES, holder_on_visit=False)


def test_a_new_press_joins_an_open_alert_and_raises_anew_after_resolution() -> None:
    assert press_joins_alert(alert_open=True)
    assert not press_joins_alert(alert_open=False)


def test_repeated_presses_are_recorded_at_most_every_interval() -> None:
    every = timedelta(seconds=10)
    assert pressed_again_due(1, None, NOW, every)
    assert not pressed_again_due(0, None, NOW, every)
    assert not pressed_again_due(5, NOW - timedelta(seconds=3), NOW, every)
    assert pressed_again_due(5, NOW - timedelta(seconds=10), NOW, every)
