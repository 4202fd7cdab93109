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
import json
import math
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt

from benchmarks.common import (
    ACCOUNT,
    AUTH_TOKEN,
    HOST,
    RESULTS,
    Figure,
    Result,
    free_port,
    health,
    lonewatch,
    percentile,
    service_env,
)
from service.adapters.sealing import split
from service.domain import ids
from service.domain.devices.messages import ALARM_KINDS
from simulators.device import SimulatedDevice
from simulators.local_stack import OwnMosquitto, OwnPostgres, own_postgres, service_process
from simulators.twilio_double import TwilioDouble

SCHEDULER_INTERVAL = 1.0
"""The service's scheduler interval (service/bootstrap.py): issue 10's bound on a step's lateness.
The scheduler wakes at each timer's due time, so a step is normally tens of ms late."""
FIRST_REQUEST_WITHIN = 2.0
"""Target: an SOS's first notification request within 2 s of the press, or of the store
(broker, service) being back when it was pressed during an outage."""
TIER1_PHONE = "+441700000010"
CONTACTS = (
    ("cc-1", "Contact centre desk", "contact_centre", TIER1_PHONE),
    ("dsl-1", "A. Lead", "dsl", "+441700000011"),
    ("head-1", "B. Head", "headteacher", "+441700000012"),
    ("slt-1", "C. Senior", "slt", "+441700000013"),
)
TIERS = (("contact_centre",), ("dsl",), ("headteacher", "slt"))
OPERATOR = "chaos-operator"

FAULTS = (
    "baseline",
    "postgres-fast",
    "postgres-immediate",
    "postgres-stopped",
    "mosquitto-restart",
    "service-kill",
    "twilio-5xx",
    "twilio-refuses",
)
FAULT_TEXT = {
    "baseline": "nothing fails (the floor)",
    "postgres-fast": "PostgreSQL restarted (-m fast)",
    "postgres-immediate": "PostgreSQL restarted (-m immediate, like a crash)",
    "postgres-stopped": "PostgreSQL stopped, then started",
    "mosquitto-restart": "Mosquitto restarted (clean shutdown, persistence on)",
    "service-kill": "lonewatch serve SIGKILLed, started again",
    "twilio-5xx": "Twilio answers 500 to every request",
    "twilio-refuses": "Twilio refuses the tier-1 contact's number for good (21610 SMS, 13224 calls)",
}
OUTAGES = frozenset(
    {"postgres-fast", "postgres-immediate", "postgres-stopped", "mosquitto-restart", "service-kill"}
)
"""Faults that take the store, the broker or the service away: what is due while they are
away is due when they are back. Twilio failing takes nothing away from the service."""


@dataclass(frozen=True)
class Plan:
    """How long and how much: every run is bounded in time and in what it sends."""

    quick: bool
    faults: tuple[str, ...] = FAULTS
    ack_within: int = 10
    renotify_every: int = 10
    take_after: float = 25.0
    """An operator takes (and resolves) an alert this long after its first text."""
    before: float = 10.0
    after: float = 30.0
    postgres_down: float = 20.0
    twilio_down: float = 20.0
    heartbeat_devices: int = 20
    heartbeat_every: float = 2.0
    sos_devices: int = 12
    press_every: float = 3.0
    drain: float = 30.0
    max_seconds: float = 900.0
    max_messages: int = 20_000

    @staticmethod
    def for_mode(quick: bool, faults: tuple[str, ...] = FAULTS) -> Plan:
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"no fault named {', '.join(unknown)}; choose from {FAULTS}")
        plan = Plan(quick=quick, faults=faults)
        if quick:
            plan = replace(
                plan,
                ack_within=5,
                renotify_every=5,
                take_after=12.0,
                before=5.0,
                after=15.0,
                postgres_down=10.0,
                twilio_down=10.0,
                heartbeat_devices=10,
                heartbeat_every=1.0,
                sos_devices=10,
                press_every=2.0,
                drain=20.0,
                max_seconds=420.0,
                max_messages=8_000,
            )
        return plan


# -- what happened, as the harness saw it -------------------------------------------


@dataclass
class Sent:
    device: str
    message_id: str
    kind: str
    at: float
    publishes: int = 0
    acknowledged: bool = False
    """The broker answered PUBACK to one of its publishes."""


@dataclass
class Press:
    device: str
    message_id: str
    at: float
    alert_id: str
    short_code: str
    first_request: float | None = None
    taken_at: float | None = None
    take_error: str | None = None


@dataclass
class Window:
    """One fault's stretch of the run, in monotonic seconds."""

    fault: str
    start: float
    fault_start: float = math.nan
    recovered: float = math.nan
    end: float = math.nan
    notes: list[str] = field(default_factory=list)

    @property
    def outage(self) -> bool:
        return self.fault in OUTAGES


class TrackedDevice(SimulatedDevice):
    """A simulated device that remembers which message each publish carried, to know which
    ones the broker acknowledged. (paho keeps a message published while disconnected and
    sends it after reconnecting; its PUBACK then arrives like any other.)"""

    def __init__(self, device_id: str, port: int, sent: dict[tuple[str, str], Sent]) -> None:
        super().__init__(device_id, host=HOST, port=port, client_id=f"chaos-{device_id}")
        self._sent = sent
        self._by_mid: dict[int, Sent] = {}
        self._early: set[int] = set()
        self._mids = threading.Lock()

    def publish_raw(self, topic: str, body: bytes) -> mqtt.MQTTMessageInfo:
        message_id = str(json.loads(body).get("id"))
        record = self._sent.get((self.device_id, message_id))
        if record is None:
            record = Sent(self.device_id, message_id, topic.rsplit("/", 1)[-1], time.monotonic())
            self._sent[(self.device_id, message_id)] = record
        record.publishes += 1
        info = super().publish_raw(topic, body)
        with self._mids:
            if info.mid in self._early:  # the PUBACK beat publish() back to us
                self._early.discard(info.mid)
                record.acknowledged = True
            else:
                self._by_mid[info.mid] = record
        return info

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, p: Any) -> None:
        super()._on_publish(client, userdata, mid, rc, p)
        with self._mids:
            record = self._by_mid.pop(mid, None)
            if record is None:
                self._early.add(mid)
        if record is not None:
            record.acknowledged = True


# -- the stack ------------------------------------------------------------------------


class Service:
    """`lonewatch serve` as a process that can be SIGKILLed and started again."""

    def __init__(self, env: dict[str, str], log: Path, http_port: int) -> None:
        self.env, self.log, self.http_port = env, log, http_port
        self._stack = contextlib.ExitStack()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = self._stack.enter_context(service_process(self.env, self.log))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    async def wait_answering(self, within: float = 60.0) -> None:
        """Until /api/v1/health answers at all (it may say degraded: that is measured elsewhere)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"service exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            if await asyncio.to_thread(health, self.http_port) is not None:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(
            f"service not answering after {within}s:\n{self.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        self._stack.close()


def write_directory(path: Path, plan: Plan) -> Path:
    policy = (
        f"{{ack_within: {plan.ack_within}s, renotify_every: {plan.renotify_every}s, "
        f"tiers: [{', '.join('[' + ', '.join(t) + ']' for t in TIERS)}]}}"
    )
    lines = [
        "organisation: Chaos Trust",
        "schools:",
        "  - id: chaos",
        "    name: Chaos School",
        "    timezone: Europe/London",
        '    working_hours: "08:00-18:00"',
        "    contacts:",
        *(
            f'      - {{id: {cid}, name: {name}, role: {role}, phone: "{phone}"}}'
            for cid, name, role, phone in CONTACTS
        ),
        "    policy:",
        f"      sos: {policy}",
        "staff:",
    ]
    devices = hb_ids(plan) + sos_ids(plan)
    lines += [f"  - {{id: st-{d}, school: chaos, name: Staff {d}}}" for d in devices]
    lines.append("devices:")
    lines += [f"  - {{id: {d}, kind: sos_fob, staff: st-{d}}}" for d in devices]
    lines += ["users:", f"  - {{username: {OPERATOR}, school: chaos, role: operator}}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def hb_ids(plan: Plan) -> list[str]:
    return [f"chaos-hb-{i:03d}" for i in range(plan.heartbeat_devices)]


def sos_ids(plan: Plan) -> list[str]:
    return [f"chaos-sos-{i:03d}" for i in range(plan.sos_devices)]


@contextlib.contextmanager
def own_broker(workdir: Path) -> Iterator[OwnMosquitto]:
    broker = OwnMosquitto(workdir)
    if not broker.installed:
        raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def create_database(server: OwnPostgres, name: str = "lonewatch") -> str:
    import psycopg

    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.admin_url.rsplit("/", 1)[0] + f"/{name}"


# -- the run ---------------------------------------------------------------------------


class Chaos:
    def __init__(
        self,
        plan: Plan,
        *,
        postgres: OwnPostgres,
        broker: OwnMosquitto,
        service: Service,
        double: TwilioDouble,
        token: str,
    ) -> None:
        self.plan = plan
        self.postgres, self.broker, self.service, self.double = postgres, broker, service, double
        self.token = token
        self.sent: dict[tuple[str, str], Sent] = {}
        self.presses: dict[str, Press] = {}  # by short code
        self.windows: list[Window] = []
        self.skipped_presses = 0
        self._counter = 0
        self._busy: set[str] = set()
        self._seen_requests = 0
        self._sending = True
        self._takes: set[asyncio.Task[None]] = set()
        self.hb = [TrackedDevice(d, broker.port, self.sent) for d in hb_ids(plan)]
        self.sos = [TrackedDevice(d, broker.port, self.sent) for d in sos_ids(plan)]

    # -- devices --

    def connect(self) -> None:
        for device in [*self.hb, *self.sos]:
            if not device.connect(timeout=15):
                raise RuntimeError(f"{device.device_id} could not connect: {device.refused}")

    def close(self) -> None:
        for device in [*self.hb, *self.sos]:
            device.close()

    def _next_id(self) -> str:
        self._counter += 1
        return f"m{self._counter:06d}"

    def press(self) -> Press | None:
        """Press SOS on a device with no alert open; None when every one is busy."""
        if not self._sending:
            return None
        free = [d for d in self.sos if d.device_id not in self._busy]
        if not free:
            self.skipped_presses += 1
            return None
        device = random.choice(free)
        message_id = self._next_id()
        alert = ids.alert_id(
            ids.alert_key_for_message(ids.device_message_id(device.device_id, message_id))
        )
        press = Press(
            device.device_id, message_id, time.monotonic(), str(alert), ids.short_code(alert)
        )
        self._busy.add(device.device_id)
        self.presses[press.short_code] = press
        device.send("sos", id=message_id)
        return press

    async def load(self) -> None:
        """Heartbeats at their pace, presses at theirs, repeats of unanswered SOS."""
        plan = self.plan
        now = time.monotonic()
        beats = {d.device_id: now + random.uniform(0, plan.heartbeat_every) for d in self.hb}
        next_press = now + plan.press_every
        while self._sending:
            now = time.monotonic()
            if len(self.sent) >= plan.max_messages:
                self._sending = False
                break
            for device in self.hb:
                if beats[device.device_id] <= now:
                    device.send("heartbeat", id=self._next_id(), battery=90)
                    beats[device.device_id] = now + plan.heartbeat_every * random.uniform(0.9, 1.1)
            if now >= next_press:
                self.press()
                next_press = now + plan.press_every * random.uniform(0.7, 1.3)
            for device in self.sos:
                device.repeat_due(now)
            await asyncio.sleep(0.05)

    # -- the operator --

    async def operator(self, session: aiohttp.ClientSession) -> None:
        """Match Twilio requests to presses; take and resolve each alert `take_after` later."""
        while True:
            records = self.double.messages
            for record in records[self._seen_requests :]:
                body = record["form"].get("Body", "")
                for code, press in self.presses.items():
                    if press.first_request is None and code in body:
                        press.first_request = record["received_monotonic"]
            self._seen_requests = len(records)
            now = time.monotonic()
            for press in self.presses.values():
                if press.taken_at is not None or press.take_error == "pending":
                    continue
                started = press.first_request
                if started is None and now - press.at > 120:
                    started = press.at + 120  # never texted: take it anyway, so the ladder stops
                if started is not None and now >= started + self.plan.take_after:
                    press.take_error = "pending"
                    task = asyncio.create_task(self._take(session, press))
                    self._takes.add(task)
                    task.add_done_callback(self._takes.discard)
            await asyncio.sleep(0.1)

    async def _take(self, session: aiohttp.ClientSession, press: Press) -> None:
        """Acknowledge, then resolve; retried through outages, for at most two minutes."""
        base = f"http://{HOST}:{self.service.http_port}/api/v1/alerts/{press.alert_id}"
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + 120
        steps: list[tuple[str, dict[str, str] | None]] = [
            ("acknowledge", None),
            ("resolve", {"outcome": "false_alarm", "note": "chaos run: taken by the harness"}),
        ]
        error = ""
        for action, body in steps:
            while time.monotonic() < deadline:
                try:
                    async with session.post(f"{base}/{action}", json=body, headers=headers) as r:
                        text = await r.text()
                        if r.status == 200 or (r.status == 409 and "already" in text):
                            if action == "acknowledge":
                                press.taken_at = time.monotonic()
                            break
                        error = f"{action}: {r.status} {text[:200]}"
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    error = f"{action}: {type(exc).__name__}"
                await asyncio.sleep(1.0)
            else:
                press.take_error = error or "deadline"
                return
        press.take_error = None
        self._busy.discard(press.device)

    # -- faults --

    async def fault(self, window: Window) -> None:
        """Start the fault; returns when what it took away is back (window.recovered)."""
        name, plan = window.fault, self.plan
        window.fault_start = time.monotonic()
        if name == "baseline":
            self.press()
        elif name in ("postgres-fast", "postgres-immediate"):
            await asyncio.to_thread(self.postgres.stop, name.removeprefix("postgres-"))
            self.press()
            await asyncio.to_thread(self.postgres.start)
        elif name == "postgres-stopped":
            await asyncio.to_thread(self.postgres.stop, "fast")
            self.press()
            await asyncio.sleep(plan.postgres_down)
            await asyncio.to_thread(self.postgres.start)
        elif name == "mosquitto-restart":
            await asyncio.to_thread(self.broker.stop)
            self.press()
            await asyncio.to_thread(self.broker.start)
        elif name == "service-kill":
            await asyncio.to_thread(self.service.kill)
            self.press()
            await asyncio.to_thread(self.service.start)
            await self.service.wait_answering()
        elif name == "twilio-5xx":
            self.double.default_outcomes = {"messages": "fail_500", "calls": "fail_500"}
            self.press()
            await asyncio.sleep(plan.twilio_down)
            self.double.default_outcomes = {"messages": "ok", "calls": "ok"}
        elif name == "twilio-refuses":
            self.double.refuse(TIER1_PHONE, 21610, kinds=("messages",))
            self.double.refuse(TIER1_PHONE, 13224, kinds=("calls",))
            self.press()
            await asyncio.sleep(plan.twilio_down)  # "during"; the refusal stays to the end
        else:
            raise ValueError(name)
        window.recovered = time.monotonic()

    async def phases(self) -> None:
        for name in self.plan.faults:
            window = Window(name, time.monotonic())
            self.windows.append(window)
            print(f"   {name}: {FAULT_TEXT[name]}", flush=True)
            await asyncio.sleep(self.plan.before)
            await self.fault(window)
            await asyncio.sleep(self.plan.after)
            window.end = time.monotonic()

    def stop_sending(self) -> None:
        self._sending = False


# -- reading the store --------------------------------------------------------------


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


# -- the analysis -------------------------------------------------------------------


@dataclass
class StepCheck:
    alert_id: str
    step: str
    due: float
    effective_due: float
    recorded: float | None

    @property
    def lateness(self) -> float:
        return math.inf if self.recorded is None else self.recorded - self.effective_due


def expected_steps(
    alert: StoredAlert, plan: Plan, outages: list[tuple[float, float]], until: float
) -> list[StepCheck]:
    """The steps the alert's policy makes due before it was taken (or before `until`), each
    matched with the step recorded for it. A reminder round the ladder folded into a later
    one (it sends one reminder for every round due at once) counts as fired with that one."""
    policy = next((p for _, _, _, p in alert.steps if p), None)
    ack_within = int(policy["ack_within"]) if policy else plan.ack_within
    renotify = int(policy["renotify_every"]) if policy else plan.renotify_every
    tiers = len(policy["tiers"]) if policy else len(TIERS)
    cutoff = min(until, alert.acknowledged if alert.acknowledged is not None else until)

    def effective(due: float) -> float:
        # A step may fire up to one interval after it is due: when the outage begins in that
        # interval, the step had no sure chance before it, so it is due when it is back. (A
        # tier due 0.16 s before PostgreSQL stopped, taken 0.5 s after it was back, was
        # counted "missing" though the service had never had its interval for it.)
        for start, end in outages:
            if start - SCHEDULER_INTERVAL < due <= end:
                return end
        return due

    wanted: list[tuple[str, float]] = [("tier1", alert.raised)]
    wanted += [(f"tier{t}", alert.raised + ack_within * (t - 1)) for t in range(2, tiers + 1)]
    k = 1
    while alert.raised + renotify * k < cutoff:
        wanted.append((f"renotify{k}", alert.raised + renotify * k))
        k += 1
    checks = []
    for name, due in wanted:
        eff = effective(due)
        if eff + SCHEDULER_INTERVAL >= cutoff:
            continue  # taken (or the run ended) before the step had its chance
        if name.startswith("renotify"):
            rounds = int(name.removeprefix("renotify"))
            fired = [at for s, r, at, _ in alert.steps if s.startswith("renotify") and r >= rounds]
        else:
            fired = [at for s, _, at, _ in alert.steps if s == name]
        checks.append(StepCheck(alert.alert_id, name, due, eff, min(fired) if fired else None))
    return checks


def _window_of(windows: list[Window], at: float) -> Window | None:
    for window in windows:
        if window.start <= at < window.end:
            return window
    return windows[-1] if windows and at >= windows[-1].end else None


def analyse(chaos: Chaos, store: Store, until: float) -> dict[str, dict[str, Any]]:
    plan, windows = chaos.plan, chaos.windows
    outages = [(w.fault_start, w.recovered) for w in windows if w.outage]
    rows: dict[str, dict[str, Any]] = {}
    for w in windows:
        rows[w.fault] = {
            "fault": FAULT_TEXT[w.fault],
            "seconds": {
                "before": round(w.fault_start - w.start, 1),
                "fault": round(w.recovered - w.fault_start, 1),
                "after": round(w.end - w.recovered, 1),
            },
            "sent": 0,
            "publishes": 0,
            "acknowledged_by_broker": 0,
            "recorded": 0,
            "duplicated": 0,
            "lost": 0,
            "unconfirmed": 0,
            "lost_ids": [],
            "sos_during_ms": [],
            "sos_after_ms": [],
            "sos_before_ms": [],
            "sos_missed": 0,
            "steps_due": 0,
            "steps_late": 0,
            "steps_missing": 0,
            "step_lateness_max_s": 0.0,
            "late_steps": [],
        }
    for sent in chaos.sent.values():
        found = _window_of(windows, sent.at)
        if found is None:
            continue
        row = rows[found.fault]
        times = store.messages.get((sent.device, sent.message_id), 0)
        row["sent"] += 1
        row["publishes"] += sent.publishes
        row["acknowledged_by_broker"] += int(sent.acknowledged)
        row["recorded"] += int(times > 0)
        row["duplicated"] += max(0, times - 1)
        if times == 0 and sent.acknowledged:
            row["lost"] += 1
            row["lost_ids"].append(f"{sent.device}/{sent.message_id} ({sent.kind})")
        elif times == 0:
            row["unconfirmed"] += 1
    for press in chaos.presses.values():
        found = _window_of(windows, press.at)
        if found is None:
            continue
        row = rows[found.fault]
        during = found.fault_start <= press.at <= found.recovered
        if press.first_request is None:
            row["sos_missed"] += 1
            latency = math.inf
        else:
            start = max(press.at, found.recovered) if during and found.outage else press.at
            # 0 when the service was quicker than the harness to see it back (a restarted
            # service can text before its health endpoint has answered the harness).
            latency = max(0.0, press.first_request - start) * 1000
        if during:
            row["sos_during_ms"].append(latency)
        elif press.at < found.fault_start:
            row["sos_before_ms"].append(latency)
        else:
            row["sos_after_ms"].append(latency)
    for alert in store.alerts.values():
        if alert.kind not in ALARM_KINDS:
            continue
        for check in expected_steps(alert, plan, outages, until):
            found = _window_of(windows, check.effective_due)
            if found is None:
                continue
            row = rows[found.fault]
            row["steps_due"] += 1
            late = check.lateness
            if late > SCHEDULER_INTERVAL:
                row["steps_missing" if math.isinf(late) else "steps_late"] += 1
                row["late_steps"].append(
                    {
                        "alert": check.alert_id,
                        "step": check.step,
                        "late_s": None if math.isinf(late) else round(late, 2),
                    }
                )
            if not math.isinf(late):
                row["step_lateness_max_s"] = max(row["step_lateness_max_s"], round(late, 3))
    for row in rows.values():
        row["lost_ids"] = row["lost_ids"][:20]
        row["late_steps"] = row["late_steps"][:20]
    return rows


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    worst = max(values)
    return "never" if math.isinf(worst) else f"{percentile(values, 50):.0f}/{worst:.0f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def met_by(row: dict[str, Any]) -> dict[str, bool]:
    first = [*row["sos_during_ms"], *row["sos_after_ms"]]
    return {
        "lost": row["lost"] == 0,
        "duplicated": row["duplicated"] == 0,
        "first_request": all(x <= FIRST_REQUEST_WITHIN * 1000 for x in first),
        "steps": row["steps_late"] == 0 and row["steps_missing"] == 0,
    }


def chaos_table(rows: dict[str, dict[str, Any]]) -> str:
    """One line per fault: what was sent and recorded, how soon the first text went, and
    whether the ladder kept time; each target's verdict beside its measure."""
    head = (
        "fault",
        "sent",
        "recorded",
        "dup",
        "lost",
        "unconf",
        "0 lost/dup",
        "SOS during p50/max ms",
        "SOS after p50/max ms",
        "<= 2 s",
        "steps due",
        "late",
        "missing",
        "worst s",
        "on time",
    )
    lines = [head]
    for name, row in rows.items():
        met = met_by(row)
        lines.append(
            (
                name,
                str(row["sent"]),
                str(row["recorded"]),
                str(row["duplicated"]),
                str(row["lost"]),
                str(row["unconfirmed"]),
                _met(met["lost"] and met["duplicated"]),
                f"{_ms(row['sos_during_ms'])} ({len(row['sos_during_ms'])})",
                f"{_ms(row['sos_after_ms'])} ({len(row['sos_after_ms'])})",
                _met(met["first_request"]),
                str(row["steps_due"]),
                str(row["steps_late"]),
                str(row["steps_missing"]),
                f"{row['step_lateness_max_s']:.2f}",
                _met(met["steps"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def figures_for(rows: dict[str, dict[str, Any]]) -> list[Figure]:
    figures = []
    for name, row in rows.items():
        first = [*row["sos_during_ms"], *row["sos_after_ms"]]
        worst = max(first) if first else 0.0
        figures += [
            Figure(f"{name}: messages lost", row["lost"], "msgs", 0, at_least=False),
            Figure(f"{name}: messages duplicated", row["duplicated"], "msgs", 0, at_least=False),
            Figure(
                f"{name}: SOS first request, worst",
                worst,
                "ms",
                FIRST_REQUEST_WITHIN * 1000,
                at_least=False,
            ),
            Figure(
                f"{name}: steps late or missing",
                row["steps_late"] + row["steps_missing"],
                "steps",
                0,
                at_least=False,
            ),
        ]
    return figures


def double_sends(double: TwilioDouble) -> int:
    """Notifications Twilio accepted more than once (each names its notification in the
    status callback URL): the invariant is at most once."""
    accepted: Counter[str] = Counter()
    for record in [*double.messages, *double.calls]:
        callback = record["form"].get("StatusCallback", "")
        if record.get("status") == 201 and "notification=" in callback:
            accepted[callback.split("notification=", 1)[1]] += 1
    return sum(n - 1 for n in accepted.values() if n > 1)


# -- putting it together -------------------------------------------------------------


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
                for task in list(chaos._takes):
                    task.cancel()
                await asyncio.gather(*chaos._takes, return_exceptions=True)
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
