"""SIA DC-09: an SOS press (MQTT publish) to the ACK at the alarm receiving centre, and what
happens while the ARC is down.

The ARC is pysiaalarm's receiver (simulators/arc.py) in this process; it stamps each event
with `time.monotonic()` as it has just written its ACK (pysiaalarm answers first, then calls
back), one clock for all processes on Linux. `lonewatch serve` runs as a process on its own
Mosquitto and PostgreSQL. A press is matched to its event by the alert's short code in the
`[I…]` extended data. Plain and AES-128 in turn, each with its own service.

ARC down: the receiver is stopped, one SOS pressed; measured are the time until
`/api/v1/health` names the ARC, and, once the receiver is back, until the alarm arrives
(the sender's backoff grows to 5 s between tries).
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from simulators.asyncio_fleet import MqttClient

from benchmarks.common import (
    HOST,
    Figure,
    Result,
    free_port,
    health,
    lonewatch,
    own_database,
    own_mosquitto,
    percentile,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from benchmarks.sos import short_code_for
from simulators.arc import ArcReceiver

DEVICES = 200
MISSED_AFTER_S = 10.0
TARGET_P50_MS = 250.0
KEY = "0123456789ABCDEF"


def _with_arc(path: Path, arc: dict[str, Any]) -> Path:
    data = yaml.safe_load(path.read_text())
    data["schools"][0]["arc"] = arc
    path.write_text(yaml.safe_dump(data))
    return path


async def _presses(
    port: int, arc: ArcReceiver, *, count: int, tag: str, gap: float, first: int
) -> list[float]:
    """Press SOS on `count` fresh devices; the press-to-ACK time of each in ms (inf: missed)."""
    client = await MqttClient.connect(HOST, port, f"lw-bench-arc-{tag}")
    sent: dict[str, float] = {}
    try:
        for i in range(count):
            await asyncio.sleep(gap)
            device, message_id = f"bench-{first + i:05d}", f"{tag}-{i}"
            sent[short_code_for(device, message_id)] = time.monotonic()
            client.publish(f"lw/v1/dev/{device}/sos", b'{"id":"%s"}' % message_id.encode())
        deadline = time.monotonic() + MISSED_AFTER_S
        while time.monotonic() < deadline:
            if set(sent) <= set(_arrivals(arc)):
                break
            await asyncio.sleep(0.05)
    finally:
        client.close()
    arrived = _arrivals(arc)
    return [
        (arrived[code] - at) * 1000 if code in arrived else math.inf for code, at in sent.items()
    ]


def _arrivals(arc: ArcReceiver) -> dict[str, float]:
    return {r.extended.get("I", "").split()[-1]: r.at for r in arc.received if r.code == "PA"}


def _summary(latencies: list[float]) -> dict[str, Any]:
    done = sorted(x for x in latencies if math.isfinite(x))
    return {
        "presses": len(latencies),
        "missed": len(latencies) - len(done),
        "p50_ms": percentile(done, 50) if done else math.inf,
        "p90_ms": percentile(done, 90) if done else math.inf,
        "max_ms": done[-1] if done else math.inf,
    }


async def _one_service(
    tmp: Path, mqtt_port: int, db: str, arc: ArcReceiver, *, count: int, down: bool
) -> dict[str, Any]:
    directory = _with_arc(
        write_directory(tmp / f"directory-{arc.port}.yaml", devices=DEVICES), arc.directory_entry()
    )
    http_port = free_port()
    env = service_env(database_url=db, mqtt_port=mqtt_port, http_port=http_port)
    await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
    log = tmp / f"service-{arc.port}.log"
    found: dict[str, Any] = {}
    with serve(env, log) as proc:
        await asyncio.to_thread(wait_healthy, http_port, proc, log)
        await _presses(mqtt_port, arc, count=3, tag="warm", gap=0.2, first=0)
        found["press_to_ack"] = _summary(
            await _presses(mqtt_port, arc, count=count, tag="run", gap=0.3, first=10)
        )
        if down:
            found["arc_down"] = await _arc_down(mqtt_port, http_port, arc)
    return found


async def _arc_down(mqtt_port: int, http_port: int, arc: ArcReceiver) -> dict[str, Any]:
    await arc.stop()
    before = len(arc.received)
    client = await MqttClient.connect(HOST, mqtt_port, "lw-bench-arc-down")
    pressed = time.monotonic()
    client.publish("lw/v1/dev/bench-00150/sos", b'{"id":"down-1"}')
    await asyncio.sleep(0.5)  # the broker's PUBACK before the client goes
    client.close()
    named = math.inf
    while time.monotonic() - pressed < 20:
        now = await asyncio.to_thread(health, http_port)
        if now is not None and any(r.startswith("arc:") for r in now.get("reasons", [])):
            named = time.monotonic() - pressed
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(max(0.0, 35 - (time.monotonic() - pressed)))  # past the 30 s
    at_35 = await asyncio.to_thread(health, http_port)
    back = time.monotonic()
    await arc.start()
    arrived = math.inf
    while time.monotonic() - back < 30:
        if any(r.code == "PA" for r in arc.received[before:]):
            arrived = time.monotonic() - back
            break
        await asyncio.sleep(0.05)
    return {
        "health_names_arc_after_s": round(named, 2),
        "health_reasons_at_35_s": at_35.get("reasons") if at_35 else None,
        "alarm_arrived_after_arc_back_s": round(arrived, 2),
    }


async def _run(quick: bool) -> Result:
    count = 10 if quick else 40
    result = Result("arc", quick)
    with (
        own_mosquitto() as mqtt_port,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        for label, key in (("plain", None), ("aes128", KEY)):
            with own_database(f"arc_{label}") as db:
                async with ArcReceiver(key=key) as arc:
                    found = await _one_service(
                        tmp, mqtt_port, db, arc, count=count, down=key is not None
                    )
            result.details[label] = found
            s = found["press_to_ack"]
            result.add(
                Figure(
                    f"SOS press to ARC ACK p50, {label}",
                    s["p50_ms"],
                    "ms",
                    TARGET_P50_MS,
                    at_least=False,
                    reference=f"p90 {s['p90_ms']:.1f} ms, max {s['max_ms']:.1f} ms, missed {s['missed']}/{s['presses']}",
                )
            )
            down = found.get("arc_down")
            if down:
                result.add(
                    Figure(
                        "ARC down: health names it after", down["health_names_arc_after_s"], "s"
                    ),
                    Figure(
                        "ARC back: alarm delivered after",
                        down["alarm_arrived_after_arc_back_s"],
                        "s",
                    ),
                )
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
