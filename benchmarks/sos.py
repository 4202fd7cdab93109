"""2. SOS press to first SMS request, with no load, under a heartbeat flood and under a login flood.

The time from an SOS publish to the first SMS request arriving at the Twilio double. The
double runs in this process and stamps each request with `time.monotonic()` (one clock
for all processes on Linux); a press is matched to its SMS by the alert's short code in
the body. A press with no SMS request within 10 s is *missed* (and infinitely late in the
percentiles). Every load runs in its own process, so this process's clock stamps are not
delayed by it. The conditions, each against a reference measured in the same run:

- (a) no load. Reference: the broker's own round trip (publish to a plain subscriber).
- (b) a heartbeat flood five times what the service records. The recording rate is
  measured first in the same run (a paced flood above it; messages recorded over the time
  until the backlog is gone), then the flood is offered at 5x while the presses run.
  Reference: (a)'s p99.
- (c) a login flood: 30 concurrent clients sending wrong passwords as fast as they are
  answered, from one address, and then spread over 30 loopback addresses (as a botnet
  would, beyond any per-address limit). Reference: (a)'s p99.

(b) runs last: its backlog at the broker outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import growth_pg
from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    HOST,
    Figure,
    Result,
    count_device_messages,
    free_port,
    lonewatch,
    own_database,
    own_mosquitto,
    percentile,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from benchmarks.ingest import cpu_seconds
from device_gateway.messages import alarm_subscriptions, device_topic
from service.domain import ids
from simulators.local_stack import REPO
from simulators.mqtt_asyncio import AsyncMqtt
from simulators.twilio_double import TwilioDouble

DEVICES = 1000
MISSED_AFTER_S = 10.0
TARGET_IDLE_P99_MS = 100.0
TARGET_LOADED_P99_MS = 250.0
FLOOD_FACTOR = 5.0
LOGIN_CLIENTS = 30
PROBE_RATE = 5000.0  # offered to measure the recording rate; above what the service records
FLOOD_ONLY = "LW_BENCH_SOS_FLOOD_ONLY"
"""Set to 1 to run (b) alone (a's presses cut to 3, no login floods): ~45 s instead of ~75."""


def short_code_for(device: str, message_id: str) -> str:
    message = ids.device_message_id(device, message_id)
    return ids.short_code(ids.alert_id(ids.alert_key_for_message(message)))


class Listener:
    """A plain subscriber to every SOS: when the broker delivered each press (the reference)."""

    def __init__(self) -> None:
        self.heard: dict[str, float] = {}
        self.client: AsyncMqtt | None = None

    async def start(self, port: int) -> None:
        self.client = await AsyncMqtt.connect(HOST, port, "lw-bench-sos-listener")
        self.client.on_message = self._on_message
        for topic in alarm_subscriptions(""):
            await self.client.subscribe(topic)

    def _on_message(self, _topic: str, payload: bytes) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.heard.setdefault(str(json.loads(payload)["id"]), time.monotonic())

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


# Each press from a device not pressed before in the run: a second press while the
# device's alert is open joins that alert and rightly sends no new SMS.
_UNPRESSED = random.sample([f"bench-{i:05d}" for i in range(DEVICES)], DEVICES)


async def presses(
    port: int,
    double: TwilioDouble,
    *,
    count: int,
    tag: str,
    gap: float,
    listener: Listener | None = None,
) -> tuple[list[float], list[float]]:
    """Press SOS `count` times at random moments, each on a fresh device; (latency of each SMS
    request in ms, inf if none within MISSED_AFTER_S; the broker's delivery to a plain
    subscriber in ms)."""
    client = await AsyncMqtt.connect(HOST, port, f"lw-bench-sos-{tag}")
    sent: dict[str, tuple[str, float]] = {}
    try:
        for i in range(count):
            await asyncio.sleep(random.uniform(0.2 * gap, 1.8 * gap))
            device = _UNPRESSED.pop()
            message_id = f"{tag}-{i}"
            payload = b'{"id":"%s"}' % message_id.encode()
            sent[short_code_for(device, message_id)] = (message_id, time.monotonic())
            client.publish(device_topic("", device, "sos"), payload)
        deadline = time.monotonic() + MISSED_AFTER_S
        while time.monotonic() < deadline:
            if len(_arrivals(double, sent)) >= len(sent):
                break
            await asyncio.sleep(0.05)
    finally:
        client.close()
    arrived = _arrivals(double, sent)
    latencies = []
    for code, (_, at) in sent.items():
        late = (arrived[code] - at) * 1000 if code in arrived else math.inf
        latencies.append(late if late <= MISSED_AFTER_S * 1000 else math.inf)
    heard = listener.heard if listener is not None else {}
    trips = [(heard[m] - at) * 1000 for m, at in sent.values() if m in heard]
    return latencies, trips


def _arrivals(double: TwilioDouble, sent: dict[str, Any]) -> dict[str, float]:
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
        "missed": sum(1 for x in latencies if math.isinf(x)),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else math.nan,
    }


async def _load(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )


async def _report(proc: asyncio.subprocess.Process, within: float) -> dict[str, Any]:
    """The load generator's last JSON line; it is stopped if it overruns `within` seconds."""
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.terminate()
        out, _ = await proc.communicate()
    lines = out.decode().strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def _heartbeats(port: int, seconds: float, rate: float, run: str) -> tuple[str, ...]:
    return (
        *("simulators.fleet", "flood", "--port", str(port)),
        *("--devices", str(DEVICES), "--duration", f"{seconds:.1f}"),
        *("--rate", f"{rate:.0f}", "--run", run),
    )


async def recording_rate(
    port: int, db: str, seconds: float, run: str = "probe", service_pid: int | None = None
) -> dict[str, Any]:
    """Messages/s the service records when offered more: a paced flood above it for
    `seconds`, then the count of recorded messages over the time until it has them all.
    A second probe in one run needs its own `run` (the same ids would be duplicates).

    Beside it, what each recorded heartbeat cost: the service's CPU and PostgreSQL's (its
    backends' CPU from /proc, benchmarks/growth_pg.py) and the commits made, from before
    the flood until the backlog is recorded and the views have had a moment to follow."""
    pg_before = await asyncio.to_thread(growth_pg.sample, db)
    cpu_before = cpu_seconds(service_pid) if service_pid is not None else 0.0
    before = await asyncio.to_thread(count_device_messages, db)
    flood = await _load(*_heartbeats(port, seconds, PROBE_RATE, run))
    report = await _report(flood, seconds + 60)
    acked = int(report.get("acked", 0))
    started = float(report.get("started_at", time.monotonic()))
    deadline = time.monotonic() + 60
    recorded = 0
    while time.monotonic() < deadline:
        recorded = await asyncio.to_thread(count_device_messages, db) - before
        if recorded >= acked:
            break
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    pg_after = await asyncio.to_thread(growth_pg.settled_sample, db)
    cpu_after = cpu_seconds(service_pid) if service_pid is not None else 0.0
    per = max(1, recorded)
    costs = growth_pg.difference(pg_before, pg_after, recorded)
    return {
        "service_cpu_us_per_heartbeat": round((cpu_after - cpu_before) / per * 1e6, 1),
        "postgres_cpu_us_per_heartbeat": costs["postgres_cpu_us_per_event"],
        "commits_per_heartbeat": round(costs["commits"] / per, 4),
        "offered_per_s": PROBE_RATE,
        "acked": acked,
        "recorded": recorded,
        "seconds": elapsed,
        "recorded_per_s": recorded / elapsed if elapsed else 0.0,
        "drained": recorded >= acked,
    }


def _figures(
    result: Result,
    label: str,
    summary: dict[str, Any],
    target_ms: float,
    reference: str,
) -> None:
    result.add(
        Figure(f"{label}: p50", summary["p50_ms"], "ms", reference=reference),
        Figure(f"{label}: p99", summary["p99_ms"], "ms", target_ms, False, reference),
        Figure(
            f"{label}: missed (no SMS in {MISSED_AFTER_S:g} s)",
            summary["missed"],
            "presses",
            0,
            False,
            f"of {summary['presses']} presses",
        ),
    )


async def _run(quick: bool) -> Result:
    count = 30 if quick else 100
    gap = 0.2 if quick else 0.3
    probe_seconds = 3.0 if quick else 6.0
    press_seconds = count * gap
    result = Result("sos", quick)
    details: dict[str, Any] = {}
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
            listener = Listener()
            with serve(env, log) as proc:
                await asyncio.to_thread(wait_healthy, http_port, proc, log)
                await listener.start(mqtt_port)
                await presses(mqtt_port, double, count=3, tag="warm", gap=gap)
                only_flood = os.environ.get(FLOOD_ONLY) == "1"
                # (a) no load, beside the broker's own round trip
                idle, trips = await presses(
                    mqtt_port,
                    double,
                    count=3 if only_flood else count,
                    tag="idle",
                    gap=gap,
                    listener=listener,
                )
                details["a_no_load"] = at_idle = _summary(idle)
                details["a_broker_round_trip"] = trip = _summary(trips)
                _figures(
                    result,
                    "(a) no load",
                    at_idle,
                    TARGET_IDLE_P99_MS,
                    f"broker round trip p50 {trip['p50_ms']:.1f} / p99 {trip['p99_ms']:.1f} ms",
                )
                reference = f"no-load p99 {at_idle['p99_ms']:.1f} ms"

                # (c) login floods: one address, then 30
                for addresses in () if only_flood else (1, LOGIN_CLIENTS):
                    flood = await _load(
                        *("benchmarks.login_flood", "--port", str(http_port)),
                        *("--clients", str(LOGIN_CLIENTS), "--addresses", str(addresses)),
                        *("--duration", f"{1.5 + press_seconds + 1:.1f}"),
                    )
                    await asyncio.sleep(1.5)  # the flood reaches its pace
                    loaded, _ = await presses(
                        mqtt_port, double, count=count, tag=f"login{addresses}", gap=gap
                    )
                    answers = await _report(flood, 30)
                    key = f"c_login_flood_{addresses}_address{'es' if addresses > 1 else ''}"
                    details[key] = summary = _summary(loaded) | {"flood": answers}
                    _figures(
                        result,
                        f"(c) login flood, {LOGIN_CLIENTS} clients, {addresses} address"
                        + ("es" if addresses > 1 else ""),
                        summary,
                        TARGET_LOADED_P99_MS,
                        f"{reference}; {answers.get('per_s', 0):.0f} answers/s "
                        f"{answers.get('statuses', {})}",
                    )
                    await asyncio.sleep(1.0)

                # (b) heartbeats at five times what the service records
                probe = await recording_rate(mqtt_port, db, probe_seconds, service_pid=proc.pid)
                details["b_recording_rate"] = probe
                rate = probe["recorded_per_s"]
                offered = FLOOD_FACTOR * rate
                flood = await _load(*_heartbeats(mqtt_port, 2 + press_seconds, offered, "hb"))
                await asyncio.sleep(2.0)  # the flood reaches its pace
                loaded, _ = await presses(mqtt_port, double, count=count, tag="hb", gap=gap)
                heartbeats = await _report(flood, 40)
                details["b_heartbeat_flood"] = summary = _summary(loaded) | {"flood": heartbeats}
                _figures(
                    result,
                    f"(b) heartbeats at {FLOOD_FACTOR:g}x recorded ({offered:,.0f}/s)",
                    summary,
                    TARGET_LOADED_P99_MS,
                    f"{reference}; service records {rate:,.0f} msg/s",
                )
                result.add(
                    Figure("service records heartbeats", rate, "msg/s"),
                    Figure(
                        "service CPU per heartbeat recorded",
                        probe["service_cpu_us_per_heartbeat"],
                        "µs",
                    ),
                    Figure(
                        "PostgreSQL CPU per heartbeat recorded",
                        probe["postgres_cpu_us_per_heartbeat"],
                        "µs",
                        reference="its backends' CPU from /proc",
                    ),
                    Figure("commits per heartbeat recorded", probe["commits_per_heartbeat"], ""),
                )
            listener.close()
    result.details = details
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
