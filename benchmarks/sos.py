"""2. SOS under load: time from an SOS publish to the SMS request arriving at the Twilio double.

While a paced flood of heartbeats (5,000/s) runs through the broker into `lonewatch serve`,
presses are published at random moments from another connection. The double runs in this
process and stamps each request with `time.monotonic()` (one clock for all processes on
Linux), matched to its press by the alert's short code in the SMS body. A press whose SMS
never comes counts as infinitely late. The same is measured first without load: the
machine's own share of the path.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
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
from service.domain import ids
from simulators.asyncio_fleet import MqttClient
from simulators.local_stack import REPO
from simulators.twilio_double import TwilioDouble

LOAD_RATE = 5000.0
DEVICES = 1000
TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0


def short_code_for(device: str, message_id: str) -> str:
    message = ids.device_message_id(device, message_id)
    return ids.short_code(ids.alert_id(ids.alert_key_for_message(message)))


async def presses(
    port: int, double: TwilioDouble, *, count: int, tag: str, gap: float, wait: float = 30.0
) -> list[float]:
    """Press SOS `count` times at random moments; the latency of each in ms (inf if lost)."""
    client = await MqttClient.connect(HOST, port, f"lw-bench-sos-{tag}")
    sent: dict[str, float] = {}
    try:
        for i in range(count):
            await asyncio.sleep(random.uniform(0.2 * gap, 1.8 * gap))
            device = f"bench-{random.randrange(DEVICES):05d}"
            message_id = f"{tag}-{i}"
            payload = b'{"id":"%s"}' % message_id.encode()
            sent[short_code_for(device, message_id)] = time.monotonic()
            client.publish(f"lw/v1/dev/{device}/sos", payload)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if len(_arrivals(double, sent)) >= len(sent):
                break
            await asyncio.sleep(0.05)
    finally:
        client.close()
    arrived = _arrivals(double, sent)
    return [
        (arrived[code] - at) * 1000 if code in arrived else math.inf for code, at in sent.items()
    ]


def _arrivals(double: TwilioDouble, sent: dict[str, float]) -> dict[str, float]:
    arrived: dict[str, float] = {}
    for record in double.messages:
        body = record["form"].get("Body", "")
        for code in sent:
            if code in body:
                arrived.setdefault(code, record["received_monotonic"])
    return arrived


def _summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "presses": len(latencies),
        "lost": sum(1 for x in latencies if math.isinf(x)),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else math.nan,
    }


async def _run(quick: bool) -> Result:
    count = 30 if quick else 200
    idle_count = 10 if quick else 30
    gap = 0.2 if quick else 0.3
    wait = 10.0 if quick else 30.0
    result = Result("sos", quick)
    with (
        own_mosquitto() as mqtt_port,
        own_database("sos") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        async with TwilioDouble(ACCOUNT, AUTH_TOKEN) as double:
            directory = write_directory(Path(tmp) / "directory.yaml", devices=DEVICES)
            http_port = free_port()
            env = service_env(
                database_url=db,
                mqtt_port=mqtt_port,
                http_port=http_port,
                twilio_base=double.base_url,
            )
            await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
            log = Path(tmp) / "service.log"
            with serve(env, log) as proc:
                await asyncio.to_thread(wait_healthy, http_port, proc, log)
                idle = await presses(mqtt_port, double, count=idle_count, tag="idle", gap=gap)
                load_seconds = 5 + count * gap + 10
                flood = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "simulators.asyncio_fleet", "flood"),
                    *("--port", str(mqtt_port), "--devices", str(DEVICES)),
                    *("--duration", str(load_seconds), "--rate", str(LOAD_RATE), "--run", "hb"),
                    cwd=REPO,
                    stdout=asyncio.subprocess.PIPE,
                )
                try:
                    await asyncio.sleep(2 if quick else 5)  # the load reaches its steady state
                    loaded = await presses(
                        mqtt_port, double, count=count, tag="load", gap=gap, wait=wait
                    )
                    backlog = health(http_port)
                finally:
                    if flood.returncode is None:
                        flood.terminate()
                    out, _ = await flood.communicate()
    load: dict[str, Any] = {}
    if out.strip():
        load = json.loads(out.decode().strip().splitlines()[-1])
    under_load = _summary(loaded)
    at_idle = _summary(idle)
    result.add(
        Figure("p50 under 5,000 hb/s", under_load["p50_ms"], "ms", TARGET_P50_MS, at_least=False),
        Figure("p99 under 5,000 hb/s", under_load["p99_ms"], "ms", TARGET_P99_MS, at_least=False),
        Figure("presses under load", len(loaded), "presses", None if quick else 200),
        Figure(
            f"presses without an SMS within {wait:g} s",
            under_load["lost"],
            "presses",
            0,
            at_least=False,
        ),
        Figure("p50 without load", at_idle["p50_ms"], "ms", TARGET_P50_MS, at_least=False),
        Figure("p99 without load", at_idle["p99_ms"], "ms", TARGET_P99_MS, at_least=False),
    )
    result.details = {
        "under_load": under_load,
        "idle": at_idle,
        "load_target_rate": LOAD_RATE,
        "load_generator": load,
        "service_health_after_presses": backlog,
    }
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
