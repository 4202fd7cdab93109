"""Traccar event to first SMS request: `python -m benchmarks traccar` (or `python -m benchmarks.traccar`).

`lonewatch serve` as a process over its own PostgreSQL database and Mosquitto; the Twilio
double in this process. Each run posts one Traccar `alarm` event (`sos`, with its position,
the shape Traccar's event forwarder writes) for a watch of its own, so each raises a new
alert; the figure is the time from starting the POST to the double receiving the first SMS
request of that alert (both on this process's monotonic clock).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    Figure,
    Result,
    free_port,
    lonewatch,
    own_database,
    own_mosquitto,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from simulators.traccar_forwarder import TraccarDevice, TraccarForwarder
from simulators.twilio_double import TwilioDouble

TARGET_P50_MS = 1000.0
"""An SOS from Traccar should text the contact centre within a second of reaching us,
as one from our own MQTT devices does (docs/performance.md)."""


def _directory(path: Path, watches: int) -> Path:
    """The benchmark school, with `watches` Traccar watches (uniqueId 35800000000NNNN)."""
    write_directory(path, devices=1, staff=watches, users=False)
    lines = path.read_text().splitlines()
    lines += [
        f"  - {{id: watch-{i:03d}, kind: sos_watch, staff: st-{i:04d}, "
        f'traccar_unique_id: "35800000000{i:04d}"}}'
        for i in range(watches)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def _one(
    session: ClientSession,
    forwarder: TraccarForwarder,
    double: TwilioDouble,
    watch: TraccarDevice,
) -> float:
    now = datetime.now(UTC)
    position = forwarder.position(watch, now, lat=51.54, lon=0.67, accuracy=9.0, alarm="sos")
    body = forwarder.event(watch, "alarm", now, position=position, alarm="sos")
    before = len(double.messages)
    started = time.monotonic()
    status = await forwarder.send_event(session, body)
    if status != 200:
        raise RuntimeError(f"Traccar event answered {status}")
    messages = await double.wait_for_messages(before + 1, timeout=10)
    first: dict[str, Any] = messages[before]
    return (float(first["received_monotonic"]) - started) * 1000


async def _run(quick: bool) -> Result:
    runs = 5 if quick else 15
    result = Result("traccar", quick)
    with (
        own_mosquitto() as mqtt_port,
        own_database("traccar") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        async with TwilioDouble(ACCOUNT, AUTH_TOKEN) as double:
            directory = _directory(Path(tmp) / "directory.yaml", runs + 1)
            http_port = free_port()
            env = service_env(
                database_url=db,
                mqtt_port=mqtt_port,
                http_port=http_port,
                twilio_base=double.base_url,
            )
            await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
            token = await asyncio.to_thread(
                lonewatch, env, "token", "create", "--integration", "traccar"
            )
            base = f"http://127.0.0.1:{http_port}/integrations/traccar"
            forwarder = TraccarForwarder(
                f"{base}/events", f"{base}/positions", f"Authorization: Bearer {token}"
            )
            log = Path(tmp) / "service.log"
            with serve(env, log) as proc:
                await asyncio.to_thread(wait_healthy, http_port, proc, log)
                async with ClientSession() as session:
                    watches = [TraccarDevice(f"35800000000{i:04d}", i + 1) for i in range(runs + 1)]
                    await _one(session, forwarder, double, watches[0])  # warm
                    times = [await _one(session, forwarder, double, w) for w in watches[1:]]
    result.add(
        Figure(
            "Traccar event POST to first SMS request: p50",
            statistics.median(times),
            "ms",
            TARGET_P50_MS,
            False,
        ),
        Figure("Traccar event POST to first SMS request: max", max(times), "ms"),
    )
    result.details = {"runs_ms": [round(t, 1) for t in times]}
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    outcome = run(quick=True)
    print(outcome.figures, outcome.details)
