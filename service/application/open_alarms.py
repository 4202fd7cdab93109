"""Which open alert a device's presses join: the stored pointer, remembered by the process.

A device stuck sending SOS raises one alert, not hundreds: a press while the device's alert
of that kind is still open joins it (service/domain/devices/health.py says when). The
pointer to that alert is stored (`OpenAlarm`), so presses after a restart, or in another
process, still join it; this process remembers it so a stream of presses does not read it
each time. Split from device_intake.py, which builds what a press records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.domain import ids
from service.domain.alerts.alert import Alert
from service.domain.devices.health import press_joins_alert
from service.domain.devices.open_alarm import OpenAlarm

A = TypeVar("A", bound=Aggregate)


class Reads(Protocol):
    """The store as a build reads it: the unit of work, or an alarm group's one read of it
    (alarm_reads.py)."""

    def load_optional(self, aggregate_id: UUID, cls: type[A]) -> A | None: ...


@dataclass
class JoinedAlarm:
    """The open alert a device's presses of one kind join, and the presses counted on it
    since it last recorded them (`pressed_again_due`)."""

    alert_id: UUID
    pending: int = 0
    last_recorded: datetime | None = None


class OpenAlarms:
    """Not thread-safe by itself: the intake takes groups with alarms one at a time."""

    def __init__(self) -> None:
        self.joined: dict[tuple[str, str], JoinedAlarm] = {}
        """The open alert each (device, alarm kind) last raised or joined."""

    def remembered(self, device: str, kind: str) -> UUID | None:
        alarm = self.joined.get((device, kind))
        return alarm.alert_id if alarm is not None else None

    def find(
        self, device: str, kind: str, alerts: dict[UUID, Alert], reads: Reads
    ) -> JoinedAlarm | None:
        """The device's open alert of this kind, loaded into `alerts`, if a press joins it.

        The alert this process remembers may be closed while another process has raised a
        newer one for the device: then the stored pointer is read again, not taken as none."""
        remembered = (device, kind) in self.joined
        found = self._joinable(device, kind, alerts, reads)
        if found is None and remembered:
            found = self._joinable(device, kind, alerts, reads)  # forgotten above: reads the store
        return found

    def raised(self, device: str, kind: str, alert_id: UUID) -> None:
        """The device's presses of `kind` join this new alert from now on."""
        self.joined[(device, kind)] = JoinedAlarm(alert_id)

    def _joinable(
        self, device: str, kind: str, alerts: dict[UUID, Alert], reads: Reads
    ) -> JoinedAlarm | None:
        alarm = self.joined.get((device, kind))
        if alarm is None:
            pointer = reads.load_optional(ids.open_alarm_id(device, kind), OpenAlarm)
            if pointer is None:
                return None
            alarm = self.joined[(device, kind)] = JoinedAlarm(pointer.alert_id)
        alert = alerts.get(alarm.alert_id)
        if alert is None:
            alert = reads.load_optional(alarm.alert_id, Alert)
            if alert is None:
                del self.joined[(device, kind)]
                return None
            alerts[alert.id] = alert
        if not press_joins_alert(alert.is_open):
            del self.joined[(device, kind)]
            return None
        return alarm


def point(device: str, kind: str, alert_id: UUID, now: datetime, reads: Reads) -> OpenAlarm:
    """The stored pointer to the alert this device's presses of `kind` now join."""
    pointer = reads.load_optional(ids.open_alarm_id(device, kind), OpenAlarm)
    if pointer is None:
        return OpenAlarm(device=device, kind=kind, alert_id=alert_id, timestamp=now)
    pointer.point_to(alert_id=alert_id, timestamp=now)
    return pointer
