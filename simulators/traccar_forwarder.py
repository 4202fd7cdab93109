"""A Traccar server's forwarding, for tests and `lonewatch simulate`: what Traccar posts to
`event.forward.url` and `forward.url` with `forward.type` json, byte for byte in shape.

The bodies follow Traccar's own classes: `forward/EventData.java` (`event`, `position`,
`device`; nulls left out) and `forward/PositionData.java` (`position`, `device`), with
`model/Event.java`, `model/Position.java` and `model/Device.java` as Jackson writes them
(dates as ISO 8601 with milliseconds and offset, ids as Java longs, `0` for "none").
Event forwarding is one try; position forwarding retries with doubling delays
(`forward.retry.enable`, `forward.retry.delay`, `forward.retry.count`), as Traccar does.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientSession, ClientTimeout


def traccar_time(when: datetime) -> str:
    """How Traccar's Jackson writes a `java.util.Date`: `2026-12-06T09:30:00.000+00:00`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}+00:00"
    )


@dataclass
class TraccarDevice:
    """A device as Traccar knows it: its own numeric id and its uniqueId (the IMEI)."""

    unique_id: str
    traccar_id: int = 1
    name: str = "SOS watch"
    model: str | None = "Q90"
    last_position: int = 0

    def as_json(self, when: datetime) -> dict[str, Any]:
        return {
            "id": self.traccar_id,
            "attributes": {},
            "groupId": 0,
            "calendarId": 0,
            "name": self.name,
            "uniqueId": self.unique_id,
            "status": "online",
            "lastUpdate": traccar_time(when),
            "positionId": self.last_position,
            "phone": None,
            "model": self.model,
            "contact": None,
            "category": "person",
            "disabled": False,
            "expirationTime": None,
        }


@dataclass
class TraccarForwarder:
    """Posts as Traccar would; `header` is the value of `forward.header` /
    `event.forward.header` (`Authorization: Bearer ...`)."""

    events_url: str
    positions_url: str
    header: str
    retry_delay: float = 0.1
    retry_count: int = 10
    """forward.retry.delay (here seconds) and forward.retry.count."""
    posted: list[tuple[str, int]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def position(
        self,
        device: TraccarDevice,
        when: datetime,
        *,
        lat: float,
        lon: float,
        accuracy: float = 0.0,
        battery_level: int | None = None,
        alarm: str | None = None,
        address: str | None = None,
        position_id: int | None = None,
    ) -> dict[str, Any]:
        """A `Position` as its JSON: Traccar stores it first, so it has its id."""
        attributes: dict[str, Any] = {"sat": 7, "distance": 0.0, "totalDistance": 0.0}
        if battery_level is not None:
            attributes["batteryLevel"] = battery_level
        if alarm is not None:
            attributes["alarm"] = alarm
        pid = position_id if position_id is not None else next(self._ids)
        device.last_position = pid
        return {
            "id": pid,
            "attributes": attributes,
            "deviceId": device.traccar_id,
            "protocol": "watch",
            "serverTime": traccar_time(when),
            "deviceTime": traccar_time(when),
            "fixTime": traccar_time(when),
            "outdated": False,
            "valid": True,
            "latitude": lat,
            "longitude": lon,
            "altitude": 0.0,
            "speed": 0.0,
            "course": 0.0,
            "address": address,
            "accuracy": accuracy,
            "network": None,
            "geofenceIds": None,
        }

    def event(
        self,
        device: TraccarDevice,
        kind: str,
        when: datetime,
        *,
        position: dict[str, Any] | None = None,
        alarm: str | None = None,
        event_id: int | None = None,
    ) -> dict[str, Any]:
        """An `EventData` body: the event, its position (if it has one) and the device."""
        attributes: dict[str, Any] = {"alarm": alarm} if alarm is not None else {}
        event = {
            "id": event_id if event_id is not None else next(self._ids),
            "attributes": attributes,
            "deviceId": device.traccar_id,
            "type": kind,
            "eventTime": traccar_time(when),
            "positionId": position["id"] if position is not None else 0,
            "geofenceId": 0,
            "maintenanceId": 0,
        }
        body: dict[str, Any] = {"event": event, "device": device.as_json(when)}
        if position is not None:
            body["position"] = position
        return body

    def position_body(self, device: TraccarDevice, position: dict[str, Any]) -> dict[str, Any]:
        """A `PositionData` body."""
        return {"position": position, "device": device.as_json(datetime.now(UTC))}

    async def send_event(self, session: ClientSession, body: dict[str, Any]) -> int:
        """One try, as Traccar's event forwarder makes: a failure is not retried."""
        return await self._post(session, self.events_url, body)

    async def send_position(self, session: ClientSession, body: dict[str, Any]) -> int:
        """Retried on anything but 2xx, the delay doubling each time (forward.retry.*)."""
        delay = self.retry_delay
        status = await self._post(session, self.positions_url, body)
        for _ in range(self.retry_count):
            if 200 <= status < 300:
                break
            await asyncio.sleep(delay)
            delay *= 2
            status = await self._post(session, self.positions_url, body)
        return status

    async def _post(self, session: ClientSession, url: str, body: dict[str, Any]) -> int:
        name, _, value = self.header.partition(":")
        try:
            async with session.post(
                url,
                json=body,
                headers={name.strip(): value.strip()},
                timeout=ClientTimeout(total=10),
            ) as response:
                await response.read()
                status = response.status
        except (TimeoutError, OSError):
            status = 0
        self.posted.append((url, status))
        return status
