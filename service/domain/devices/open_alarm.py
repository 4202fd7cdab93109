"""Which alert a device's presses of one alarm kind join.

A fob repeats its SOS until it hears `alert_received`, and a person presses again; Traccar
forwards the same alarm as an event and on one or more positions. All of these are one
emergency: while the alert the first press raised is open, every later press of that kind
from that device joins it. The intake used to remember that alert in memory only, so after
a restart (or in another `serve` process) the next press raised a second alert for the
same emergency; hypothesis found it (tests/invariants/test_traccar_once.py). The pointer is
now recorded beside the alert it names, in the same transaction, and the intake's memory is
a cache of it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain.ids import open_alarm_id


class OpenAlarm(Aggregate):
    @staticmethod
    def create_id(device: str, kind: str) -> UUID:
        return open_alarm_id(device, kind)

    @event("Pointed")
    def __init__(self, device: str, kind: str, alert_id: UUID, timestamp: datetime) -> None:
        self.device = device
        self.kind = kind
        self.alert_id = alert_id

    @event("Moved")
    def point_to(self, alert_id: UUID, timestamp: datetime) -> None:
        """A new alert raised by this device's alarm of this kind (the last one closed)."""
        self.alert_id = alert_id
