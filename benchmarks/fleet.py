"""4. Fleet: 10,000 devices connected at once, each heartbeating every 30 s, for 5 minutes.

The devices are one asyncio process (simulators.fleet: a paho connection each, on one asyncio loop), the
service is `lonewatch serve`. Every message the broker acknowledged must be
recorded (counted in the event store afterwards), and the service's resident
memory is sampled throughout from /proc.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Figure,
    Result,
    count_device_messages,
    free_port,
    lonewatch,
    own_database,
    own_mosquitto,
    rss_mb,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from simulators.local_stack import REPO
from simulators.mqtt_asyncio import raise_open_files_limit

TARGET_RSS_MB = 300.0


def run(quick: bool) -> Result:
    devices, every, seconds = (1_000, 5.0, 20.0) if quick else (10_000, 30.0, 300.0)
    result = Result("fleet", quick)
    raise_open_files_limit(devices + 1024)
    with (
        own_mosquitto(max_connections=devices + 100) as mqtt_port,
        own_database("fleet") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        directory = write_directory(Path(tmp) / "directory.yaml", devices=devices)
        http_port = free_port()
        env = service_env(database_url=db, mqtt_port=mqtt_port, http_port=http_port)
        lonewatch(env, "directory", "import", str(directory))
        log = Path(tmp) / "service.log"
        rss: list[tuple[float, float]] = []
        stop = threading.Event()
        with serve(env, log) as proc:
            wait_healthy(http_port, proc, log)
            before = count_device_messages(db)
            rss_start = rss_mb(proc.pid)[0]

            def sample() -> None:
                while not stop.is_set():
                    rss.append((time.monotonic(), rss_mb(proc.pid)[0]))
                    stop.wait(1.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            sim = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "simulators.fleet",
                    "fleet",
                    *("--port", str(mqtt_port), "--devices", str(devices)),
                    *("--every", str(every), "--duration", str(seconds), "--run", "fleet"),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=seconds + 300,
                check=True,
            )
            report: dict[str, Any] = json.loads(sim.stdout.strip().splitlines()[-1])
            deadline = time.monotonic() + 60  # let the service drain, bounded
            recorded = count_device_messages(db) - before
            while recorded < report["acked"] and time.monotonic() < deadline:
                time.sleep(1)
                recorded = count_device_messages(db) - before
            drain = 60 - max(0.0, deadline - time.monotonic())
            peak = rss_mb(proc.pid)[1]
            stop.set()
            sampler.join()
    max_rss = max((r for _, r in rss), default=0.0)
    result.add(
        Figure("devices connected at once", report["connections"], "conns", devices),
        Figure("messages recorded / acknowledged", recorded / max(1, report["acked"]), "x", 1.0),
        Figure("service RSS, max sampled", max_rss, "MB", TARGET_RSS_MB, at_least=False),
        Figure("service RSS, peak (VmHWM)", peak, "MB", TARGET_RSS_MB, at_least=False),
    )
    result.details = {
        "devices": devices,
        "heartbeat_every_s": every,
        "seconds": seconds,
        "simulator": report,
        "recorded": recorded,
        "drain_seconds_after_end": round(drain, 1),
        "rss_at_start_mb": rss_start,
        "rss_samples_mb": [round(r, 1) for _, r in rss[:: max(1, len(rss) // 30)]],
    }
    return result
