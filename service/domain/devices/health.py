"""Policy rules about devices: low battery, silence, and a device that keeps pressing.

Plain functions over plain values; the gateway and (later) the visits scheduler
call them and record what they decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta

EXPECT_EVERY_SECONDS = 60
"""'heartbeat: {expect_every: 60s}' unless a school's policy says otherwise."""
OFFLINE_AFTER_SECONDS = 180
"""'heartbeat: {offline_after: 180s}' unless a school's policy says otherwise: the one default
of how long a device may be silent before it counts as offline (see `device_offline`)."""

SILENCE_REPORTS = frozenset({"offline"})
"""Messages that say a device went quiet (Traccar's deviceOffline, deviceUnknown): recorded,
never counted as the device being seen, so the visit's silence watch runs on."""

PRESSED_AGAIN_EVERY = timedelta(seconds=10)
"""A device stuck on SOS adds at most one `Alert.PressedAgain` (with its count) this often."""


def battery_low(battery: int | None, low_battery_below: int | None) -> bool:
    """'low_battery_below: 20' — a reading under the school's threshold is low."""
    if battery is None or low_battery_below is None:
        return False
    return battery < low_battery_below


def low_battery_alert_due(
    battery: int | None, low_battery_below: int | None, holder_on_visit: bool
) -> bool:
    """An amber low-battery alert is raised only while the device's holder is on a visit:
    a fob charging in a drawer at school is nobody's emergency."""
    return holder_on_visit and battery_low(battery, low_battery_below)


def device_offline(last_seen: datetime | None, now: datetime, offline_after: timedelta) -> bool:
    """'heartbeat: {offline_after: 180s}' — silent for longer than that is offline.
    A device never seen is offline."""
    return last_seen is None or now - last_seen > offline_after


def device_offline_alert_due(
    last_seen: datetime | None, now: datetime, offline_after: timedelta, holder_on_visit: bool
) -> bool:
    """An amber device-offline alert, only while the holder is on a visit."""
    return holder_on_visit and device_offline(last_seen, now, offline_after)


def press_joins_alert(alert_open: bool) -> bool:
    """Another SOS (a new id) from a device whose SOS alert is still open is the same
    emergency: counted on that alert, not a new one. Once a person has resolved the
    alert, a new press is news and raises a new alert."""
    return alert_open


def pressed_again_due(
    pending: int, last_recorded: datetime | None, now: datetime, every: timedelta
) -> bool:
    """Whether to record the presses counted since the last `PressedAgain` now."""
    return pending > 0 and (last_recorded is None or now - last_recorded >= every)
