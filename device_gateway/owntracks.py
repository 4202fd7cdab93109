"""OwnTracks phones: topic and payload in, a reading for the device intake or a rejection out.

Pure translation, as for our own payloads (`device_gateway.messages`). The shapes are
OwnTracks' own (booklet, "JSON"): `{base}` carries `_type: location` (`lat`, `lon`, `acc`,
`batt`, `tst`, ...) and the broker's `_type: lwt` when the app drops off; `{base}/event`
carries `_type: transition` (`event` enter|leave, `desc`, `lat`, `lon`, `acc`, `tst`,
`wtst`). `tst` is epoch seconds. A message is recorded once per (device, `_type`, `tst`),
its id `owntracks-{_type}-{tst}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from device_gateway.messages import (
    MAX_PAYLOAD_BYTES,
    DeviceReading,
    Rejection,
    RejectReason,
    reading_from_fields,
)

SOURCE: Final = "owntracks"
EVENT_LEVEL: Final = "event"
TRANSITIONS: Final = frozenset({"enter", "leave"})
MAX_DESC_CHARS: Final = 200


def subscriptions(topics: Mapping[str, str]) -> list[str]:
    """What the phones' link subscribes to: each base topic and its `/event`."""
    return sorted(t for base in topics for t in (base, f"{base}/{EVENT_LEVEL}"))


def parse_owntracks(
    topic: str, payload: bytes, topics: Mapping[str, str]
) -> DeviceReading | Rejection:
    """`topics`: the directory's OwnTracks base topics, each with our device id."""
    base, _, level = topic.rpartition("/")
    wants: tuple[str, ...]
    if topic in topics:
        device, wants = topics[topic], ("location", "lwt")
    elif level == EVENT_LEVEL and base in topics:
        device, wants = topics[base], ("transition",)
    else:
        return Rejection(
            RejectReason.bad_topic,
            f"no directory device has the OwnTracks topic {topic[:100]!r}",
        )

    def reject(reason: RejectReason, detail: str) -> Rejection:
        return Rejection(reason, detail, device_id=device, kind="owntracks")

    if len(payload) > MAX_PAYLOAD_BYTES:
        return reject(RejectReason.oversize, f"payload is {len(payload)} bytes; the limit is 4 KiB")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return reject(RejectReason.bad_json, f"payload is not UTF-8 JSON: {exc}")
    if not isinstance(data, dict):
        return reject(RejectReason.not_an_object, "an OwnTracks payload is a JSON object")
    kind = data.get("_type")
    if kind not in wants:
        return reject(
            RejectReason.unknown_kind,
            f"'_type' on {topic[:100]!r} must be {' or '.join(wants)}, got {str(kind)[:40]!r}",
        )
    tst = data.get("tst")
    if isinstance(tst, bool) or not isinstance(tst, int):
        return reject(
            RejectReason.bad_field,
            f"field 'tst' must be epoch seconds as an integer, got {str(tst)[:40]!r}",
        )
    fields: dict[str, Any] = {"id": f"owntracks-{kind}-{tst}", "ts": tst * 1000}
    extra: dict[str, Any] = {"source": SOURCE, "owntracks_type": kind}
    if kind == "lwt":  # the app dropped off: not a sign of life (SILENCE_REPORTS)
        return reading_from_fields(device, "offline", fields, extra)
    for ours, theirs in (("lat", "lat"), ("lon", "lon"), ("acc", "acc"), ("battery", "batt")):
        if data.get(theirs) is not None:
            fields[ours] = data[theirs]
    if kind == "location":
        if "lat" not in fields or "lon" not in fields:
            return reject(RejectReason.bad_field, "a location needs 'lat' and 'lon'")
        return reading_from_fields(device, "location", fields, extra)
    event, desc = data.get("event"), data.get("desc")
    if event not in TRANSITIONS:
        return reject(
            RejectReason.bad_field,
            f"field 'event' must be enter or leave, got {str(event)[:40]!r}",
        )
    if desc is not None and (not isinstance(desc, str) or len(desc) > MAX_DESC_CHARS):
        return reject(
            RejectReason.bad_field,
            f"field 'desc' must be a region name of at most {MAX_DESC_CHARS} characters",
        )
    extra.update(event=event, desc=desc or "")
    fields["id"] = f"owntracks-transition-{tst}"
    return reading_from_fields(device, "transition", fields, extra)
