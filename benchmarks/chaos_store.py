"""What the chaos run (benchmarks/chaos.py) reads back from the event store: device messages
by (device, id), and each alert's raise, escalation steps and acknowledgement."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.adapters.sealing import split


def _decode(value: Any) -> Any:
    """eventsourcing's JSON transcoder writes {"_type_": ..., "_data_": ...} for its types."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind == "datetime_iso":
                return datetime.fromisoformat(data)
            return _decode(data)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@dataclass
class StoredAlert:
    alert_id: str
    kind: str
    raised: float
    steps: list[tuple[str, int, float, dict[str, Any] | None]] = field(default_factory=list)
    """(step name, round, recorded at, policy) in the order recorded."""
    acknowledged: float | None = None


@dataclass
class Store:
    messages: Counter[tuple[str, str]]
    alerts: dict[str, StoredAlert]


def read_store(database_url: str, offset: float) -> Store:
    """Device messages by (device, id) and each alert's raise, steps and acknowledgement.
    `offset` turns the store's wall-clock timestamps into this process's monotonic time."""
    import psycopg

    def mono(value: Any) -> float:
        return float(value.timestamp()) - offset

    messages: Counter[tuple[str, str]] = Counter()
    alerts: dict[str, StoredAlert] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT originator_id, topic, state FROM lonewatch_events "
            "WHERE topic LIKE %s OR topic LIKE %s ORDER BY notification_id",
            ("%DeviceMessage.Received", "%:Alert.%"),
        ).fetchall()
    for originator, topic, state in rows:
        data = _decode(json.loads(split(bytes(state))[1]))
        event = topic.rsplit(".", 1)[-1]
        if "DeviceMessage" in topic:
            messages[(str(data.get("device")), str(data.get("message_id")))] += 1
            continue
        key = str(originator)
        if event == "Raised":
            alerts[key] = StoredAlert(key, str(data.get("kind")), mono(data["timestamp"]))
        elif key not in alerts:
            continue
        elif event == "Escalated":
            step = data["step"]
            alerts[key].steps.append(
                (str(step["step"]), int(step["round"]), mono(data["timestamp"]), step.get("policy"))
            )
        elif event == "Acknowledged" and alerts[key].acknowledged is None:
            alerts[key].acknowledged = mono(data["timestamp"])
    return Store(messages, alerts)


def count_recorded(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM lonewatch_events WHERE topic LIKE %s",
            ("%DeviceMessage.Received",),
        ).fetchone()
    return int(row[0]) if row else 0
