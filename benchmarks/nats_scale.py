"""Ingest through NATS JetStream with 1, 2 and 3 `lonewatch serve` processes, as a ratio to one.

A three-node cluster of this run's own (R3 stream). For each count of processes: a fresh
database and topic prefix, the stream and its consumers made, a backlog of heartbeats
published through NATS's MQTT listener while no service runs, then the processes started
together; the figure is how fast they drain the backlog into PostgreSQL (events recorded
per second, between 10 % and 90 % of it, read from the store), each count twice in the
order 1, 2, 3, 3, 2, 1 and averaged. The backlog separates what the processes can take
from what one publisher can offer on the same two cores.

    python -m benchmarks nats_scale [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import (
    Figure,
    Result,
    count_device_messages,
    free_port,
    lonewatch,
    own_database,
    serve,
    wait_healthy,
    write_directory,
)
from benchmarks.ingest import flood_report
from device_gateway.nats_sessions import NatsPlan, ensure_stream
from simulators.local_stack import REPO
from simulators.nats_cluster import OwnNatsCluster, nats_version

DEVICES = 1000
PROCESSES = (1, 2, 3)
ORDER = (1, 2, 3, 3, 2, 1)
"""Each count measured twice, in mirrored order, and averaged: a machine whose load drifts
during the run (others' work) then weighs on every count alike."""
TARGET_RATIO_2 = 1.3
"""What a second process should add where cores allow (here: 2 cores for everything)."""


def _make_stream(cluster: OwnNatsCluster, stream: str, prefix: str) -> None:
    async def make() -> None:
        import nats

        nc = await nats.connect(servers=cluster.url.removeprefix("nats://").split(","))
        try:
            await ensure_stream(nc.jetstream(timeout=10), NatsPlan(stream, prefix, 3))
        finally:
            await nc.close()

    asyncio.run(make())


def _backlog(port: int, prefix: str, seconds: float, run: str) -> dict[str, float]:
    args = ["--port", str(port), "--devices", str(DEVICES), "--duration", str(seconds)]
    args += ["--connections", "4", "--prefix", prefix, "--run", run]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.fleet", "flood", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    return flood_report(proc, seconds + 120)


def _drain(database_url: str, total: int, timeout: float) -> tuple[float, list[tuple[float, int]]]:
    """Events/s between 10 % and 90 % of `total` recorded, and the samples."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = count_device_messages(database_url)
        samples.append((time.monotonic(), count))
        if count >= total:
            break
        time.sleep(0.2)

    def first_at(level: float) -> tuple[float, int]:
        return next((t, c) for t, c in samples if c >= level)

    (t10, c10), (t90, c90) = first_at(0.1 * total), first_at(0.9 * total)
    return (c90 - c10) / (t90 - t10) if t90 > t10 else 0.0, samples


def one_round(
    cluster: OwnNatsCluster, processes: int, seconds: float, tmp: Path
) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    prefix = f"scale{processes}{run}/"
    stream = f"BENCH_{processes}_{run}"
    with own_database(f"nats{processes}") as db, contextlib.ExitStack() as stack:
        directory = write_directory(tmp / f"directory-{processes}.yaml", devices=DEVICES)
        base = {
            "LW_DATABASE_URL": db,
            "LW_MQTT_URL": cluster.url,
            "LW_NATS_STREAM": stream,
            "LW_MQTT_TOPIC_PREFIX": prefix,
            "LW_LOG_FORMAT": "json",
            "LW_POLL_INTERVAL": "0.5",
        }
        lonewatch(
            {**base, "LW_HTTP_ADDR": f"127.0.0.1:{free_port()}"},
            "directory",
            "import",
            str(directory),
        )
        _make_stream(cluster, stream, prefix)
        published = _backlog(cluster.mqtt_ports[0], prefix, seconds, run)
        total = int(published["acked"])
        started = time.monotonic()
        ports = [free_port() for _ in range(processes)]
        procs = [
            stack.enter_context(
                serve(
                    {**base, "LW_HTTP_ADDR": f"127.0.0.1:{port}"},
                    tmp / f"serve-{processes}-{i}.log",
                )
            )
            for i, port in enumerate(ports)
        ]
        rate, samples = _drain(db, total, timeout=300)
        for i, (port, proc) in enumerate(zip(ports, procs, strict=True)):
            wait_healthy(port, proc, tmp / f"serve-{processes}-{i}.log", timeout=30)
        return {
            "processes": processes,
            "backlog": total,
            "published_per_s": total / max(published["seconds"], 1e-9),
            "recorded_per_s": rate,
            "drained_in_s": samples[-1][0] - started,
            "recorded": samples[-1][1],
        }


def run(quick: bool) -> Result:
    seconds = 4.0 if quick else 20.0
    result = Result("nats_scale", quick)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="lw-bench-nats-") as tmp:
        cluster = OwnNatsCluster(Path(tmp) / "nats")
        cluster.start()
        try:
            for processes in ORDER:
                rounds.append(one_round(cluster, processes, seconds, Path(tmp)))
                print(f"   {processes} process(es): {rounds[-1]}", flush=True)
        finally:
            cluster.stop()
    rate = {
        n: sum(r["recorded_per_s"] for r in rounds if r["processes"] == n)
        / max(1, sum(1 for r in rounds if r["processes"] == n))
        for n in PROCESSES
    }
    one = rate[1] or 1.0
    result.add(Figure("1 process: events recorded/s", one, "ev/s"))
    for n in PROCESSES[1:]:
        result.add(
            Figure(
                f"{n} processes: ratio to one",
                rate[n] / one,
                "x",
                TARGET_RATIO_2 if n == 2 else None,
                reference=f"{rate[n]:.0f} ev/s against {one:.0f} ev/s with one",
            )
        )
    result.details = {"nats_server": nats_version(), "devices": DEVICES, "rounds": rounds}
    return result
