"""1. Durable ingest: heartbeats at full speed through Mosquitto into PostgreSQL, against the raw pipe.

The same publisher (simulators.fleet flood) runs twice through the same broker:
once to a plain paho subscriber that only counts (the raw pipe), once to
`lonewatch serve` (whatever gateway is in the tree). The service's figure is
events committed per second over the publishing window, read from the event
store's head; the gateway's own count of acknowledged messages is kept beside it.
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
    free_port,
    health,
    lonewatch,
    own_database,
    own_mosquitto,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from simulators.local_stack import REPO

TARGET_RATE = 10_000.0
TARGET_RATIO = 0.6
DEVICES = 1000


def _flood(port: int, seconds: float, run: str, rate: float | None = None) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-m",
        "simulators.fleet",
        "flood",
        "--port",
        str(port),
        "--devices",
        str(DEVICES),
        "--duration",
        str(seconds),
        "--connections",
        "4",
        "--run",
        run,
    ]
    if rate is not None:
        args += ["--rate", str(rate)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)


def flood_report(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def rate_in_window(samples: list[tuple[float, int]], start: float, end: float) -> float:
    """Growth per second of a sampled counter between two instants (linear interpolation)."""

    def at(t: float) -> float:
        before = [s for s in samples if s[0] <= t]
        after = [s for s in samples if s[0] >= t]
        if not before:
            return float(samples[0][1])
        if not after:
            return float(samples[-1][1])
        (t0, v0), (t1, v1) = before[-1], after[0]
        return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    return (at(end) - at(start)) / (end - start)


def raw_pipe(port: int, seconds: float) -> dict[str, Any]:
    sub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.raw_subscriber",
            *("--port", str(port), "--seconds", str(seconds + 3)),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sub.stdout is not None
    sub.stdout.readline()  # ready
    publisher = flood_report(_flood(port, seconds, "raw"), seconds + 60)
    out, _ = sub.communicate(timeout=30)
    samples = [tuple(s) for s in json.loads(out.strip().splitlines()[-1])["samples"]]
    start = publisher["started_at"]
    received = rate_in_window(samples, start, start + publisher["seconds"])  # type: ignore[arg-type]
    return {"publisher": publisher, "received_per_s": received}


def run(quick: bool) -> Result:
    seconds = 8.0 if quick else 60.0
    result = Result("ingest", quick)
    with (
        own_mosquitto() as mqtt_port,
        own_database("ingest") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        directory = write_directory(Path(tmp) / "directory.yaml", devices=DEVICES)
        http_port = free_port()
        env = service_env(database_url=db, mqtt_port=mqtt_port, http_port=http_port)
        lonewatch(env, "directory", "import", str(directory))
        raw = raw_pipe(mqtt_port, seconds)
        http_port = free_port()  # chosen late: the raw pipe's sockets may have taken one
        env["LW_HTTP_ADDR"] = f"127.0.0.1:{http_port}"
        log = Path(tmp) / "service.log"
        samples: list[tuple[float, int]] = []
        acked: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                doc = health(http_port)
                now = time.monotonic()
                if doc:
                    samples.append((now, int(doc["checks"]["event_store"]["head"])))
                    gateway = doc["checks"].get("gateway", {})
                    acked.append((now, int(gateway.get("recorded", 0))))
                stop.wait(0.5)

        with serve(env, log) as proc:
            wait_healthy(http_port, proc, log)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            time.sleep(1.0)
            publisher = flood_report(_flood(mqtt_port, seconds, "svc"), seconds + 60)
            time.sleep(1.0)
            stop.set()
            sampler.join()
        start = publisher["started_at"]
        end = start + publisher["seconds"]
        recorded = rate_in_window(samples, start, end)
        acknowledged = rate_in_window(acked, start, end) if acked else 0.0
    ratio = recorded / raw["received_per_s"] if raw["received_per_s"] else 0.0
    result.add(
        Figure("events recorded/s", recorded, "ev/s", TARGET_RATE),
        Figure("ratio to raw pipe", ratio, "x", TARGET_RATIO),
        Figure("raw pipe (no storage)", raw["received_per_s"], "msg/s"),
        Figure("acknowledged/s (gateway count)", acknowledged, "msg/s"),
    )
    result.details = {
        "seconds": seconds,
        "devices": DEVICES,
        "raw_publisher": raw["publisher"],
        "service_publisher": publisher,
        "head_samples": samples[-3:],
    }
    return result
