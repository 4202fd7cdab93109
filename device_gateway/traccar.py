"""Traccar's forwarded JSON in, readings for the device intake out (INTERFACES.md section 8).

Pure translation, as for our own MQTT payloads (`device_gateway.messages`): no I/O and no
clock. The shapes are Traccar's own: `EventData` (`{"event", "position", "device"}`) from its
event forwarder, `PositionData` (`{"position", "device"}`) from its position forwarder,
each model serialised by Jackson with nulls left out (`model/Event.java`,
`model/Position.java`, `model/Device.java`). Every field is checked by the same rules as a
device's payload (`reading_from_fields`).

Ids: a position is recorded as `traccar-position-{id}`; an alarm as
`traccar-alarm-{positionId}-{kind}`, whether the event or the position carried it, so an
event and its position raise one alert; an event with no position (and any other event) as
`traccar-event-{id}`. Traccar repeats a position until it gets a 2xx: a repeat is a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from device_gateway.messages import DeviceReading, Rejection, RejectReason, reading_from_fields

SOURCE: Final = "traccar"
MAX_BODY_BYTES: Final = 64 * 1024
"""A position with every attribute a tracker reports is a few KiB; an address or a geofence
list may add some. Beyond this it is not Traccar's forward."""

ALARMS: Final = {"sos": "sos", "fallDown": "fall"}
"""Traccar's `alarm` values that are our alarm kinds (`Position.ALARM_SOS`, `ALARM_FALL_DOWN`)."""
LOW_BATTERY: Final = "lowBattery"
SILENCE_EVENTS: Final = frozenset({"deviceOffline", "deviceUnknown"})
"""Traccar's `Event.TYPE_DEVICE_OFFLINE` / `TYPE_DEVICE_UNKNOWN`: the device went quiet."""


@dataclass(frozen=True)
class Forwarded:
    """A forward's device (Traccar's `uniqueId`) and the body, checked to be an object."""

    unique_id: str
    body: dict[str, Any]


class TraccarRefused(ValueError):
    """The body is not Traccar's forward; the message says what is wrong."""


def parse_body(raw: bytes, wants: str) -> Forwarded:
    """The JSON body of a forward whose main object is `wants` ("event" or "position")."""
    if len(raw) > MAX_BODY_BYTES:
        raise TraccarRefused(f"body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TraccarRefused(f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict):
        raise TraccarRefused("body must be a JSON object like Traccar's forward")
    main = body.get(wants)
    if not isinstance(main, dict):
        raise TraccarRefused(f"body must hold an object '{wants}', as Traccar forwards it")
    device = body.get("device")
    unique = device.get("uniqueId") if isinstance(device, dict) else None
    if not isinstance(unique, str) or not unique.strip():
        raise TraccarRefused("body must hold 'device' with its 'uniqueId' (set forward type json)")
    return Forwarded(unique_id=unique.strip(), body=body)


def event_readings(device_id: str, body: dict[str, Any]) -> list[DeviceReading | Rejection]:
    """What one forwarded event records: an alarm, a battery reading, a silence, or the event."""
    event: dict[str, Any] = body["event"]
    position = body.get("position") if isinstance(body.get("position"), dict) else None
    kind_of_event = str(event.get("type") or "")
    attributes = _attributes(event)
    alarms = _alarms(attributes.get("alarm"))
    event_key = _event_key(event)
    position_id = _long(event.get("positionId"))
    where = _position_fields(position) if position is not None else {}
    extra: dict[str, Any] = {
        "source": SOURCE,
        "traccar_event": event_key,
        "traccar_type": kind_of_event,
    }
    if alarms:
        extra["alarm"] = ",".join(alarms)
    ts = event.get("eventTime")
    if kind_of_event == "alarm":
        ours = [ALARMS[a] for a in alarms if a in ALARMS]
        if ours:
            return [
                reading_from_fields(
                    device_id,
                    kind,
                    {**where, "id": _alarm_id(position_id, kind, event_key), "ts": ts},
                    {**extra, **_address(position)},
                )
                for kind in ours
            ]
        if LOW_BATTERY in alarms and "battery" in where:
            return [
                reading_from_fields(
                    device_id,
                    "battery",
                    {**where, "id": f"traccar-event-{event_key}", "ts": ts},
                    {**extra, **_address(position)},
                )
            ]
    if kind_of_event in SILENCE_EVENTS:
        return [
            reading_from_fields(
                device_id, "offline", {"id": f"traccar-event-{event_key}", "ts": ts}, extra
            )
        ]
    return [
        reading_from_fields(
            device_id,
            "event",
            {**where, "id": f"traccar-event-{event_key}", "ts": ts},
            {**extra, **_address(position)},
        )
    ]


def position_readings(device_id: str, body: dict[str, Any]) -> list[DeviceReading | Rejection]:
    """A position is a location (and battery) reading; one carrying `sos` or `fallDown` raises
    that alarm too, since event forwarding is not retried and position forwarding is."""
    position: dict[str, Any] = body["position"]
    position_id = _long(position.get("id"))
    if position_id is None:
        return [
            Rejection(
                RejectReason.bad_field,
                f"position.id must be Traccar's position id (an integer), got {position.get('id')!r}",
                device_id=device_id,
                kind="location",
            )
        ]
    fields = _position_fields(position)
    ts = position.get("fixTime") or position.get("deviceTime")
    extra: dict[str, Any] = {
        "source": SOURCE,
        "traccar_position": position_id,
        **_address(position),
    }
    alarms = _alarms(_attributes(position).get("alarm"))
    if alarms:
        extra["alarm"] = ",".join(alarms)
    readings = [
        reading_from_fields(
            device_id,
            "location",
            {**fields, "id": f"traccar-position-{position_id}", "ts": ts},
            extra,
        )
    ]
    for alarm in alarms:
        if alarm in ALARMS:
            kind = ALARMS[alarm]
            readings.append(
                reading_from_fields(
                    device_id,
                    kind,
                    {**fields, "id": _alarm_id(position_id, kind, ""), "ts": ts},
                    extra,
                )
            )
    return readings


# -- fields ---------------------------------------------------------------------


def _attributes(model: dict[str, Any]) -> dict[str, Any]:
    attributes = model.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _alarms(value: object) -> list[str]:
    """Traccar joins several alarms of one position with commas (`Position.addAlarm`)."""
    if not isinstance(value, str):
        return []
    return [a.strip() for a in value.split(",") if a.strip()]


def _long(value: object) -> int | None:
    """A Java `long` id; 0 is Traccar's "none"."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _event_key(event: dict[str, Any]) -> str:
    """Traccar's event id; an event forwarded without one (not stored) is named by what it says."""
    event_id = _long(event.get("id"))
    if event_id is not None:
        return str(event_id)
    said = json.dumps(
        [event.get(k) for k in ("type", "eventTime", "deviceId", "positionId")]
        + [_attributes(event).get("alarm")],
        default=str,
    )
    return "h" + hashlib.sha256(said.encode()).hexdigest()[:24]


def _alarm_id(position_id: int | None, kind: str, event_key: str) -> str:
    if position_id is not None:
        return f"traccar-alarm-{position_id}-{kind}"
    return f"traccar-event-{event_key}"


def _position_fields(position: dict[str, Any] | None) -> dict[str, Any]:
    """lat, lon, acc and battery as our payload names them. Traccar writes 0 for a value it
    does not have (accuracy; latitude and longitude together before a first fix)."""
    if position is None:
        return {}
    fields: dict[str, Any] = {}
    lat, lon = position.get("latitude"), position.get("longitude")
    if _number(lat) and _number(lon) and not (lat == 0 and lon == 0):
        fields["lat"], fields["lon"] = lat, lon
    accuracy = position.get("accuracy")
    if _number(accuracy) and accuracy > 0:
        fields["acc"] = accuracy
    level = _attributes(position).get("batteryLevel")  # percent; `battery` is volts
    if _number(level):
        fields["battery"] = round(level)
    return fields


def _address(position: dict[str, Any] | None) -> dict[str, Any]:
    """Traccar's reverse-geocoded address, when its geocoder is on: the best words for an SMS."""
    address = position.get("address") if position is not None else None
    return {"address": address.strip()} if isinstance(address, str) and address.strip() else {}


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
