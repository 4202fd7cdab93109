"""What a device does, for tests: a topic and payload bytes in, through the production path.

The gateway turns an MQTT message into a reading with `parse_device_message` and
records it with `DeviceIntake.record`; tests go through exactly those two, so a
test world can never hold an alarm the real service would not (there is no
second, test-only way to record a device message).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from device_gateway.messages import DeviceReading, parse_device_message
from service.application.device_intake import DeviceIntake, Intaken, Outcome


class UnknownDevice(AssertionError):
    """The intake refused the device: a test sending as a device the directory lacks."""


def topic(device: str, kind: str, prefix: str = "") -> str:
    return f"{prefix}lw/v1/dev/{device}/{kind}"


def payload(**fields: Any) -> bytes:
    """The JSON object a device publishes; fields that are None are left out."""
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


class Devices:
    """Devices in a test, sending as the MQTT gateway receives them."""

    def __init__(self, intake: DeviceIntake, *, prefix: str = "") -> None:
        self.intake = intake
        self.prefix = prefix
        self._ids = itertools.count(1)

    def send(self, device: str, kind: str, body: bytes | dict[str, Any] | None = None) -> Intaken:
        """Publish `body` (bytes as sent, or a dict as JSON; None is an empty payload)."""
        raw = body if isinstance(body, bytes) else payload(**body) if body else b""
        reading = parse_device_message(topic(device, kind, self.prefix), raw, prefix=self.prefix)
        assert isinstance(reading, DeviceReading), f"the gateway refuses this message: {reading}"
        (result,) = self.intake.record([reading])
        if result.outcome is Outcome.UNKNOWN_DEVICE:
            raise UnknownDevice(f"device {device!r} is not in the directory")
        return result

    def press(self, device: str, msg_id: str | None = None, **fields: Any) -> Intaken:
        """The SOS button; `msg_id` is the device's message id (a repeat sends the same one)."""
        return self.send(device, "sos", {"id": msg_id, **fields})

    def fall(self, device: str, msg_id: str | None = None, **fields: Any) -> Intaken:
        return self.send(device, "fall", {"id": msg_id, **fields})

    def heartbeat(
        self, device: str, battery: int | None = 80, kind: str = "heartbeat", **fields: Any
    ) -> Intaken:
        return self.send(device, kind, {"battery": battery, **fields})

    def text(self, device: str, text: str, msg_id: str | None = None) -> Intaken:
        """A text typed in the phone app (`message`): the staff safe word raises duress."""
        return self.send(device, "message", {"id": msg_id or f"t-{next(self._ids)}", "text": text})
