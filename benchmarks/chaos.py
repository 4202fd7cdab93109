"""8. Chaos: the real service kept under device load while its broker, its database, its own
process and Twilio fail, one after another; what was lost, how late the alarms were.

Everything is the run's own, on 127.0.0.1: a PostgreSQL cluster (`own_postgres`, so it
can be stopped and killed), a Mosquitto from the production configuration with
persistence (`OwnMosquitto`, restarted cleanly so its sessions survive), the Twilio
double in this process (scripted to answer 5xx, or to refuse a number for good), and
`lonewatch serve` as a process (SIGKILLed and started again). Devices are real MQTT
clients: heartbeat fobs at a modest rate and SOS fobs pressed at intervals, each message
with an id of its own; an SOS is repeated (same id) every 5 s until `alert_received`, as
INTERFACES.md section 2 says a device does. An operator (this harness, through the API)
takes and resolves each alert some seconds after its first text, so each alert climbs a
few steps of a short ladder (the directory's policy) and then stops.

Each fault has a healthy stretch before and after it. Measured, per fault:
- messages sent / recorded / duplicated / lost, counted in the store (DeviceMessage events
  by device and id); "lost" is a message the broker acknowledged (PUBACK) that was never
  recorded; a message the broker never acknowledged is "unconfirmed", not lost;
- SOS press to the first notification request at the Twilio double (matched by the alert's
  short code in the SMS); for a press while the store, broker or service was down, from the
  moment it was back;
- every escalation step due in the stretch, compared with the alert's policy: due at the
  raise (tier 1), at `ack_within` per further tier and every `renotify_every`; a step due
  while something was down (or less than one scheduler interval before it went) is due
  when it came back; late if recorded more than one scheduler interval (1 s) after that,
  missing if never recorded although there was time.

Bounded: a fixed number of devices, messages capped, the whole run under a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.chaos_analysis import analyse, chaos_table, double_sends, figures_for
from benchmarks.chaos_harness import Chaos, Service, create_database, own_broker, write_directory
from benchmarks.chaos_plan import (
    FAULTS,
    OPERATOR,
    Plan,
)
from benchmarks.chaos_store import count_recorded, read_store
from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    RESULTS,
    Figure,
    Result,
    free_port,
    health,
    lonewatch,
    service_env,
)
from simulators.local_stack import own_postgres
from simulators.twilio_double import TwilioDouble


async def _drain(chaos: Chaos, database_url: str, seconds: float) -> int:
    """Until every message the broker acknowledged is recorded, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    recorded = 0
    while time.monotonic() < deadline:
        acknowledged = sum(1 for s in chaos.sent.values() if s.acknowledged)
        with contextlib.suppress(Exception):
            recorded = await asyncio.to_thread(count_recorded, database_url)
        if recorded >= acknowledged:
            break
        await asyncio.sleep(0.5)
    return recorded


async def run_plan(plan: Plan, *, log_dir: Path | None = None) -> Result:
    result = Result("chaos", plan.quick)
    offset = time.time() - time.monotonic()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lw-chaos-")))
        postgres = stack.enter_context(own_postgres(free_port()))
        broker = stack.enter_context(own_broker(tmp / "broker"))
        database_url = create_database(postgres)
        async with TwilioDouble(ACCOUNT, AUTH_TOKEN) as double:
            http_port = free_port()
            env = service_env(
                database_url=database_url,
                mqtt_port=broker.port,
                http_port=http_port,
                twilio_base=double.base_url,
            )
            directory = write_directory(tmp / "directory.yaml", plan)
            await asyncio.to_thread(lonewatch, env, "directory", "import", str(directory))
            token = await asyncio.to_thread(lonewatch, env, "token", "create", "--user", OPERATOR)
            (log_dir or RESULTS).mkdir(parents=True, exist_ok=True)
            log = (log_dir or RESULTS) / f"chaos{'-quick' if plan.quick else ''}-service.log"
            log.unlink(missing_ok=True)
            service = Service(env, log, http_port)
            stack.callback(service.stop)
            service.start()
            await service.wait_answering()
            chaos = Chaos(
                plan, postgres=postgres, broker=broker, service=service, double=double, token=token
            )
            await asyncio.to_thread(chaos.connect)
            stack.callback(chaos.close)
            started = time.monotonic()
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                load = asyncio.create_task(chaos.load())
                operator = asyncio.create_task(chaos.operator(session))
                aborted = None
                try:
                    async with asyncio.timeout(plan.max_seconds):
                        await chaos.phases()
                except TimeoutError:
                    aborted = f"stopped at the run's limit of {plan.max_seconds:.0f} s"
                    if chaos.windows and math.isnan(chaos.windows[-1].end):
                        chaos.windows[-1].end = time.monotonic()
                finally:
                    chaos.stop_sending()
                    await load
                recorded = await _drain(chaos, database_url, plan.drain)
                await asyncio.sleep(2)  # the operator sees the last requests
                operator.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await operator
                await chaos.stop_taking()
            until = time.monotonic()
            store = await asyncio.to_thread(read_store, database_url, offset)
            rows = analyse(chaos, store, until)
            sends_twice = double_sends(double)
            service_health = await asyncio.to_thread(health, http_port)
            requests = {"messages": len(double.messages), "calls": len(double.calls)}
    print(chaos_table(rows), flush=True)
    result.add(*figures_for(rows))
    result.add(
        Figure("notifications Twilio accepted twice", sends_twice, "notifications", 0, False)
    )
    result.details = {
        "plan": {k: v for k, v in plan.__dict__.items()},
        "aborted": aborted,
        "seconds": round(until - started, 1),
        "faults": rows,
        "presses": len(chaos.presses),
        "message_cap_reached": len(chaos.sent) >= plan.max_messages,
        "presses_skipped_all_devices_busy": chaos.skipped_presses,
        "presses_not_taken_when_the_run_ended": [
            {"device": p.device, "id": p.message_id, "error": p.take_error}
            for p in chaos.presses.values()
            if p.taken_at is None
        ][:20],
        "recorded_at_end": recorded,
        "alerts": [
            {
                "alert": a.alert_id,
                "kind": a.kind,
                "raised_s": round(a.raised - started, 3),
                "steps": [(name, round(at - started, 3)) for name, _, at, _ in a.steps],
                "acknowledged_s": None
                if a.acknowledged is None
                else round(a.acknowledged - started, 3),
            }
            for a in store.alerts.values()
        ],
        "windows_s": [
            {
                "fault": w.fault,
                "start": round(w.start - started, 3),
                "fault_start": round(w.fault_start - started, 3),
                "recovered": round(w.recovered - started, 3),
                "end": round(w.end - started, 3),
            }
            for w in chaos.windows
        ],
        "twilio_requests": requests,
        "notifications_accepted_twice": sends_twice,
        "service_health_at_end": service_health,
        "service_log": str(log),
    }
    return result


def run(quick: bool) -> Result:
    faults = tuple(os.environ.get("LW_CHAOS_FAULTS", "").split()) or FAULTS
    return asyncio.run(run_plan(Plan.for_mode(quick, faults)))
