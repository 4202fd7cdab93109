"""What a lane settles once a group is recorded: the acknowledgement to the broker, a refusal
counted and logged, and the `alert_received` answer to the device that pressed.

Apart from the lanes' threads (lanes.py) because this is what a device sees of the record;
the order is still the lanes': nothing here runs before the group's commit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from device_gateway.inbound import InboundMessage
from device_gateway.links import GroupAckLink, Link, Sessions
from device_gateway.messages import ALARM_KINDS, DeviceReading, cmd_topic, safe_text
from service.application.device_intake import Intaken, Outcome
from service.domain.alerts.notifications import Notification
from service.logs import get_logger

log = get_logger(__name__)

LANES: Final = ("alarm", "text", "bulk")


@dataclass(frozen=True, init=False)
class Item:
    """One message waiting in a lane, with the link that delivered it (acked there). Made for
    every message admitted, on the loop: `__init__` written out as `InboundMessage`'s is."""

    message: InboundMessage
    reading: DeviceReading | None
    """None when validation itself failed: the message is recorded as rejected."""
    source: Link | None
    why: str = ""

    def __init__(
        self,
        message: InboundMessage,
        reading: DeviceReading | None,
        source: Link | None,
        why: str = "",
    ) -> None:
        """As the dataclass's own would."""
        _SET(
            self,
            "__dict__",
            {"message": message, "reading": reading, "source": source, "why": why},
        )


_SET = object.__setattr__


def lane_of(item: Item) -> str:
    kind = item.reading.kind if item.reading is not None else ""
    return "alarm" if kind in ALARM_KINDS else "text" if kind == "message" else "bulk"


HandOff = Callable[[list[Notification]], None]
Pressed = Callable[[list[tuple[str, str]], float], None]
"""Told (alert id, notification id) pairs just committed and when their message arrived."""


class Acks:
    """Settles what a lane recorded or refused; counts it in the gateway's `stats`."""

    def __init__(
        self,
        sessions: Sessions,
        stats: Counter[str],
        *,
        prefix: str,
        on_notifications: HandOff | None,
        on_pressed: Pressed | None = None,
    ) -> None:
        self.sessions = sessions
        self.on_pressed = on_pressed
        self.stats = stats
        self.prefix = prefix
        self.on_notifications = on_notifications
        """Given the notifications an alert asked for, as soon as they are committed."""
        self._gathering: dict[int, tuple[GroupAckLink, list[tuple[int, int]]] | None] | None = None
        """While a group is settled: its acknowledgements per link, sent together at its end."""

    def settle_all(self, items: list[Item], results: list[Intaken]) -> None:
        requested = [n for result in results for n in result.requested]
        if requested and self.on_notifications is not None:
            try:
                self.on_notifications(requested)
            except Exception:
                # The dispatcher also follows the views: the SMS is late, not lost.
                log.exception("notifications_hand_off_failed", count=len(requested))
        if requested and self.on_pressed is not None:
            arrived = min(item.message.received_at for item in items)
            self.on_pressed([(str(n.alert_id), str(n.id)) for n in requested], arrived)
        self._gathering = {}
        plain: dict[str, int] = {}
        """Plain readings recorded (a heartbeat: no flag, no alert), counted per kind for the
        group: `_settle` would count each one in `stats` by itself, twice."""
        last: Link | None = None
        pairs: list[tuple[int, int]] | None = None
        """The last plain reading's link and where its acknowledgements gather (None: that
        link acknowledges one at a time): a group's readings mostly came by one link."""
        try:
            for item, result in zip(items, results, strict=True):
                reading = item.reading
                try:
                    if (
                        result.quiet and reading is not None
                    ):  # an ack and a count: all `_settle` does
                        message, link = item.message, item.source or self.sessions.main
                        if link is not last or pairs is None:
                            last, pairs = link, self._gathered(link)
                        if pairs is not None:
                            pairs.append((message.mid, message.qos))
                        elif link is not None:
                            link.ack(message.mid, message.qos)
                        kind = reading.kind
                        plain[kind] = plain.get(kind, 0) + 1
                    else:
                        self._settle(item, result)
                except Exception:
                    log.exception("device_message_settle_failed", topic=item.message.topic)
                    self.ack(item.message, item.source)  # recorded: never leave it in flight
        finally:
            for kind, count in plain.items():
                self.stats["recorded"] += count
                self.stats[f"kind:{kind}"] += count
            gathered, self._gathering = self._gathering, None
            for entry in gathered.values():
                if entry is not None:
                    try:
                        entry[0].ack_all(entry[1])
                    except Exception:
                        # Recorded, so safe to leave: the broker delivers them again when
                        # the session resumes, and each is found recorded (a duplicate).
                        log.exception("device_acks_failed", count=len(entry[1]))

    def _settle(self, item: Item, result: Intaken) -> None:
        reading, message = item.reading, item.message
        assert reading is not None
        if result.outcome is Outcome.UNKNOWN_DEVICE:
            self.refuse(
                message,
                item.source,
                reading.device_id,
                "unknown_device",
                f"device {reading.device_id!r} is not in the directory",
            )
            return
        self.ack(message, item.source)
        self.stats["duplicates" if result.outcome is Outcome.DUPLICATE else "recorded"] += 1
        if result.outcome is Outcome.RECORDED:
            self.stats[f"kind:{reading.kind}"] += 1
            for flag in result.flags:
                if flag != "duress":  # a silent alarm stays silent, even in counters
                    self.stats[flag] += 1
            if result.joined_open_alert:
                self.stats["pressed_again"] += 1
            self._log_device_faults(reading, result)
            if "rejected_fields" in result.flags:  # the intake flags what it dropped
                log.warning(
                    "alarm_fields_dropped",
                    device=reading.device_id,
                    kind=reading.kind,
                    fields=reading.rejected_fields,
                )
        if result.announced:
            # The press's own `id` beside the alert: a device repeating two presses (or a
            # press made while its alert was open) stops repeating each only when that
            # press itself is answered, never on another press's answer.
            answer = {"type": "alert_received", "alert_id": str(result.alert_id)}
            if reading.msg_id is not None:
                answer["id"] = reading.msg_id
            self._command(reading.device_id, answer)
            log.info(
                "alert_message_recorded",
                device=reading.device_id,
                kind=reading.kind,
                alert=str(result.alert_id),
                duplicate=result.outcome is Outcome.DUPLICATE,
                joined_open_alert=result.joined_open_alert,
            )

    @staticmethod
    def _log_device_faults(reading: DeviceReading, result: Intaken) -> None:
        """What an operator must fix on a device, though its message was recorded: an `id`
        another message had, a clock far from ours. Warnings limited per device
        (service/logs.py), so a device that gets it wrong on every heartbeat writes a few
        lines a minute, and another device's lines still show."""
        if "id_reused" in result.flags:
            log.warning(
                "device_message_id_reused",
                device=reading.device_id,
                kind=reading.kind,
                id=safe_text(str(reading.msg_id)),
                rate_limit_per="device",
            )
        if result.clock_skew_seconds is not None:
            log.warning(
                "device_clock_skew",
                device=reading.device_id,
                kind=reading.kind,
                skew_seconds=result.clock_skew_seconds,
                rate_limit_per="device",
            )

    def refuse(
        self,
        message: InboundMessage,
        source: Link | None,
        device: str | None,
        reason: str,
        detail: str,
    ) -> None:
        self.stats[f"rejected:{reason}"] += 1
        log.warning(
            "device_message_rejected",
            reason=reason,
            detail=safe_text(detail),
            device=device,
            topic=safe_text(message.topic),
        )
        self.ack(message, source)

    def ack(self, message: InboundMessage, source: Link | None) -> None:
        """Acknowledge now, or with the rest of the group being settled where the link can
        (one write to the broker and one wake-up of its thread for the whole group)."""
        link = source or self.sessions.main
        if link is None:
            return
        pairs = self._gathered(link)
        if pairs is None:
            link.ack(message.mid, message.qos)
        else:
            pairs.append((message.mid, message.qos))

    def _gathered(self, link: Link | None) -> list[tuple[int, int]] | None:
        """Where the group being settled gathers `link`'s acknowledgements, or None when
        they go one by one (no group being settled, no link, or one that cannot take many)."""
        gathering = self._gathering
        if gathering is None or link is None:
            return None
        key = id(link)
        if key not in gathering:  # a protocol's isinstance is slow: once per link and group
            gathering[key] = (link, []) if isinstance(link, GroupAckLink) else None
        entry = gathering[key]
        return None if entry is None else entry[1]

    def _command(self, device: str, payload: dict[str, Any]) -> None:
        """Commands go out on the main session (the alarm session only receives)."""
        link = self.sessions.main or self.sessions.alarm
        if link is not None:
            link.publish(cmd_topic(self.prefix, device), json.dumps(payload).encode(), qos=1)
