"""Several `lonewatch serve` processes on one store: what a second process costs and buys.

`python -m benchmarks [--quick] processes` (run only when named). On its own Mosquitto
(shared subscriptions) and its own PostgreSQL database, with the Twilio double:

- SOS press to first SMS request with one process, then with two (about half the presses
  are then recorded by the process that does not hold the outbox and reach the holder
  through PostgreSQL's NOTIFY);
- heartbeats recorded per second with one process and with two (the ratio);
- takeover: the outbox holder is SIGKILLed and started again after 1 s (as systemd does);
  how long until another process holds the outbox lease, and how long an SOS pressed just
  after the kill waits for its SMS (Mosquitto may have given it to the dead process's
  session, which gets it when the process is back).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    Figure,
    Result,
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
from benchmarks.sos import DEVICES, presses, recording_rate, short_code_for
from device_gateway.messages import device_topic
from simulators.mqtt_asyncio import AsyncMqtt
from simulators.twilio_double import TwilioDouble

KILL_PRESS_WITHIN_S = 90.0
"""How long an SOS pressed at a kill is waited for (it may wait for the dead process)."""
TAKEOVER_TARGET_S = 5.0
""""Another takes over within seconds": the lease lasts 3 s and is asked for twice a second."""


def _summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "presses": len(latencies),
        "missed": sum(1 for x in latencies if math.isinf(x)),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def _outbox_holder(db: str) -> tuple[int, int] | None:
    """(pid, token) of the outbox lease's holder, as the store has it."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(
            "SELECT holder, token FROM lw_leases WHERE name = 'outbox' AND expires_at > now()"
        ).fetchone()
    return (int(str(row[0]).split(":")[1]), int(row[1])) if row else None


class Processes:
    """Named `serve` processes sharing one group at the broker, each restartable."""

    def __init__(self, base: dict[str, str], tmp: Path, stack: ExitStack) -> None:
        self.base, self.tmp, self.stack = base, tmp, stack
        self.ports: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts = 0

    def start(self, name: str) -> None:
        port = self.ports.setdefault(name, free_port())
        env = {
            **self.base,
            "LW_HTTP_ADDR": f"127.0.0.1:{port}",
            "LW_MQTT_CLIENT_ID": f"{self.base['LW_MQTT_CLIENT_ID']}-{name}",
        }
        self.starts += 1
        log = self.tmp / f"{name}-{self.starts}.log"
        proc = self.stack.enter_context(serve(env, log))
        wait_healthy(port, proc, log)
        self.procs[name] = proc

    def name_of(self, pid: int) -> str:
        return next(n for n, p in self.procs.items() if p.pid == pid)


async def _press_once(port: int, double: TwilioDouble, device: str, tag: str) -> float:
    """One SOS on `device`; ms until its first SMS request (inf: none within the wait)."""
    client = await AsyncMqtt.connect("127.0.0.1", port, f"lw-bench-{tag}")
    code = short_code_for(device, tag)
    try:
        pressed = time.monotonic()
        client.publish(device_topic("", device, "sos"), b'{"id":"%s"}' % tag.encode())
        while time.monotonic() - pressed < KILL_PRESS_WITHIN_S:
            for record in double.messages:
                if code in record["form"].get("Body", ""):
                    return (float(record["received_monotonic"]) - pressed) * 1000
            await asyncio.sleep(0.05)
    finally:
        client.close()
    return math.inf


async def _restart(fleet: Processes, name: str, after: float) -> None:
    await asyncio.sleep(after)
    await asyncio.to_thread(fleet.start, name)


async def _run(quick: bool) -> Result:
    count = 20 if quick else 60
    gap = 0.2 if quick else 0.3
    kills = 3 if quick else 6
    probe_seconds = 3.0 if quick else 6.0
    result = Result("processes", quick)
    details: dict[str, Any] = {}
    with (
        own_mosquitto() as mqtt_port,
        own_database("processes") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
        ExitStack() as stack,
    ):
        async with TwilioDouble(ACCOUNT, AUTH_TOKEN) as double:
            # Past the SOS benchmark's fobs: one fresh fob for each kill.
            directory = write_directory(Path(tmp) / "directory.yaml", devices=DEVICES + kills)
            env = service_env(
                database_url=db, mqtt_port=mqtt_port, http_port=0, twilio_base=double.base_url
            )
            env["LW_MQTT_SHARE_GROUP"] = "bench"
            await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
            fleet = Processes(env, Path(tmp), stack)
            await asyncio.to_thread(fleet.start, "a")
            await presses(mqtt_port, double, count=3, tag="warm", gap=gap)

            one, _ = await presses(mqtt_port, double, count=count, tag="one", gap=gap)
            details["sos_one_process"] = s1 = _summary(one)
            rate1 = await recording_rate(mqtt_port, db, probe_seconds)
            details["recording_one_process"] = rate1

            await asyncio.to_thread(fleet.start, "b")
            two, _ = await presses(mqtt_port, double, count=count, tag="two", gap=gap)
            details["sos_two_processes"] = s2 = _summary(two)
            rate2 = await recording_rate(mqtt_port, db, probe_seconds, run="probe2")
            details["recording_two_processes"] = rate2

            takeovers: list[float] = []
            during: list[float] = []
            for k in range(kills):
                holder = await asyncio.to_thread(_outbox_holder, db)
                assert holder is not None, "nobody holds the outbox"
                victim = fleet.name_of(holder[0])
                killed_at = time.monotonic()
                os.kill(holder[0], signal.SIGKILL)
                fleet.procs[victim].wait(10)
                await asyncio.sleep(0.1)
                pressed = asyncio.create_task(
                    _press_once(mqtt_port, double, f"bench-{DEVICES + k:05d}", f"kill{k}")
                )
                # Started again after 1 s under the same client id, as systemd does
                # (RestartSec=1): Mosquitto keeps the dead member's share for it.
                restarted = asyncio.create_task(_restart(fleet, victim, 1.0))
                while True:
                    now = await asyncio.to_thread(_outbox_holder, db)
                    if now is not None and now[1] > holder[1]:
                        takeovers.append(time.monotonic() - killed_at)
                        break
                    await asyncio.sleep(0.05)
                during.append(await pressed)
                await restarted
            details["takeover_s"] = takeovers
            details["sos_pressed_after_kill_ms"] = during
    r1, r2 = rate1["recorded_per_s"], rate2["recorded_per_s"]
    result.add(
        Figure("SOS p50, 1 process", s1["p50_ms"], "ms"),
        Figure("SOS p99, 1 process", s1["p99_ms"], "ms", 100.0, False),
        Figure(
            "SOS p50, 2 processes", s2["p50_ms"], "ms", reference=f"1 process {s1['p50_ms']:.1f}"
        ),
        Figure(
            "SOS p99, 2 processes",
            s2["p99_ms"],
            "ms",
            100.0,
            False,
            f"1 process {s1['p99_ms']:.1f}; missed {s2['missed']} of {s2['presses']}",
        ),
        Figure("heartbeats recorded, 1 process", r1, "msg/s"),
        Figure("heartbeats recorded, 2 processes", r2, "msg/s", reference=f"ratio {r2 / r1:.2f}"),
        Figure(
            "outbox takeover after SIGKILL, worst",
            max(takeovers),
            "s",
            TAKEOVER_TARGET_S,
            False,
            f"each: {', '.join(f'{t:.2f}' for t in takeovers)}",
        ),
        Figure(
            "SOS pressed 0.1 s after the kill (restart after 1 s): to SMS, worst",
            max(during),
            "ms",
            reference=f"each: {', '.join(f'{t:.0f}' for t in during)}",
        ),
    )
    result.details = details
    return result


def run(quick: bool) -> Result:
    return asyncio.run(_run(quick))
