"""The device topics: `lw/v1/dev/{device_id}/{kind}` in, `.../cmd` and `lw/v1/alerts/{school}`
out, under an optional prefix (INTERFACES.md section 2). The gateway, the parser and the
simulators build and read topics here only.
"""

from __future__ import annotations

import re
from typing import Final

from service.domain.devices.messages import ALARM_KINDS

DEVICE_KINDS: tuple[str, ...] = (
    "sos",
    "heartbeat",
    "checkin",
    "message",
    "battery",
    "location",
    "fall",
)
"""Kinds a device may publish, the last level of `lw/v1/dev/{device_id}/{kind}`."""

CMD_KIND: Final = "cmd"
"""The service's own topic level towards a device; it matches the device filter too."""

TOPIC_SHAPE: Final = "lw/v1/dev/{device_id}/{kind}"
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def normalise_prefix(prefix: str) -> str:
    """`"site"` and `"site/"` both mean the `site/` namespace; `""` means none."""
    if prefix and not prefix.endswith("/"):
        return prefix + "/"
    return prefix


def device_topic_filter(prefix: str) -> str:
    """The one subscription that receives every device message (and our own `cmd`s)."""
    return f"{normalise_prefix(prefix)}lw/v1/dev/+/+"


def device_subscription(prefix: str, share_group: str = "") -> str:
    """The gateway's subscription: shared among gateways when a group is given."""
    return _shared(device_topic_filter(prefix), share_group)


def alarm_subscriptions(prefix: str, share_group: str = "") -> list[str]:
    """The alarm session's subscriptions: `sos` and `fall` only, so alarms have a queue
    and an in-flight window at the broker of their own (docs/gateway.md)."""
    return [
        _shared(f"{normalise_prefix(prefix)}lw/v1/dev/+/{kind}", share_group)
        for kind in sorted(ALARM_KINDS)
    ]


def _shared(topic_filter: str, share_group: str) -> str:
    if not share_group:
        return topic_filter
    if any(ch in share_group for ch in "/+#") or not share_group.strip():
        raise ValueError(f"a share group is one topic level without / + #, got {share_group!r}")
    return f"$share/{share_group}/{topic_filter}"


def topic_levels(topic: str, prefix: str = "") -> tuple[str, str] | None:
    """(device level, kind level) of a topic of the device shape, unchecked; else None.

    Cheap enough for paho's hand-off: it tells an alarm apart before any parsing, and
    names the device of a message whose payload could not be read at all.
    """
    prefix = normalise_prefix(prefix)
    if not topic.startswith(prefix):
        return None
    levels = topic[len(prefix) :].split("/")
    if len(levels) != 5 or levels[:3] != ["lw", "v1", "dev"]:
        return None
    return levels[3], levels[4]


def is_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def cmd_topic(prefix: str, device_id: str) -> str:
    """Where the service tells a device `alert_received` / `acknowledged`."""
    if not is_device_id(device_id):
        raise ValueError(f"device id must match [A-Za-z0-9_-]{{1,64}}, got {device_id!r}")
    return f"{normalise_prefix(prefix)}lw/v1/dev/{device_id}/{CMD_KIND}"


def alerts_topic(prefix: str, school_id: str) -> str:
    """Where every change of an alert of a school is published for other systems."""
    if not school_id or any(ch in school_id for ch in "/+#\x00"):
        raise ValueError(f"school id must be one topic level without / + #, got {school_id!r}")
    return f"{normalise_prefix(prefix)}lw/v1/alerts/{school_id}"
