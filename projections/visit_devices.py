"""The lone visitor's device on the visit board: the visit a device is out on, its
heartbeats (which keep the device watch going), a low battery and a `checkin` (each a
timer due at once: the visit decides, and records it)."""

from __future__ import annotations

from typing import Any

from projections.core import Doc, Effects, Reader
from projections.visit_timers import set_timer, watch_device
from service.domain.devices.health import SILENCE_REPORTS, battery_low
from service.domain.visits.rules import LOW_BATTERY_BELOW

CHECKIN = "checkin"
APP_MESSAGE = "message"
TIMELINE_DEVICE_KINDS = frozenset({"checkin", "sos", "fall"})


def board(read: Reader, fx: Effects, visit: str) -> Doc | None:
    """The visit's board document as this batch of events has left it."""
    key = ("visit", visit)
    if key in fx.docs:
        return fx.docs[key]
    found = read("visit", visit)
    if found is None:
        return None
    doc = dict(found)
    fx.docs[key] = doc
    return doc


def link_device(read: Reader, fx: Effects, device: str, visit: str | None) -> None:
    """The device doc names the visit it is out on: every device message reads that doc
    anyway, so finding the visit costs no extra read per heartbeat."""
    found = fx.docs.get(("device", device)) or read("device", device)
    fx.docs[("device", device)] = {**(found or {"id": device, "counts": {}}), "visit": visit}


def device_message(event: Any, read: Reader, fx: Effects) -> None:
    """Heartbeats keep a lone visit's device watch going; a checkin counts as the visitor's OK."""
    if event.kind in SILENCE_REPORTS:  # "the device went quiet" is not a sign of life
        return
    device = fx.docs.get(("device", event.device)) or read("device", event.device) or {}
    if not device.get("visit"):
        return
    doc = board(read, fx, device["visit"])
    if doc is None or doc["state"] not in ("departed", "arrived", "left"):
        return
    doc["last_heartbeat"] = event.timestamp.isoformat()
    battery = (event.fields or {}).get("battery")
    if battery is not None:
        doc["battery"] = battery
        below = int(doc.get("low_battery_below", LOW_BATTERY_BELOW))
        if battery_low(battery, below) and not doc.get("low_battery_noticed"):
            # Due at once, like a checkin: the visit decides (once per visit) and records it.
            set_timer(
                fx,
                doc,
                "battery",
                "visit_low_battery",
                event.timestamp,
                battery=battery,
                message=str(event.originator_id),
            )
    doc.pop("device_silent_since", None)
    watch_device(fx, doc, event.timestamp)
    if event.kind == CHECKIN:
        message = str(event.originator_id)
        set_timer(
            fx,
            doc,
            f"checkin-{message}",
            "visit_device_checkin",
            event.timestamp,
            device=event.device,
            message=message,
        )
    if event.kind == APP_MESSAGE and (event.fields or {}).get("text"):
        # A text from the phone app may be a visitor command (LEFT, EXTEND, CONCERN, ENDED):
        # read and applied by the visit, like a checkin (service/application/visitor_texts.py).
        message = str(event.originator_id)
        set_timer(fx, doc, f"text-{message}", "visit_app_text", event.timestamp, message=message)
        fx.subjects.append(f"visit:{doc['id']}")
    if event.kind in TIMELINE_DEVICE_KINDS:
        fx.subjects.append(f"visit:{doc['id']}")
