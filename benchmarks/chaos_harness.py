"""The chaos run's moving parts (benchmarks/chaos.py): devices that know which messages the
broker acknowledged, the service as a process to kill, the load, the operator and the faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt

from benchmarks.chaos_plan import (
    CONTACTS,
    FAULT_TEXT,
    OPERATOR,
    TIER1_PHONE,
    TIERS,
    Plan,
    Press,
    Sent,
    Window,
)
from benchmarks.common import (
    HOST,
    health,
)
from service.domain import ids
from simulators.device import SimulatedDevice
from simulators.local_stack import OwnMosquitto, OwnPostgres, service_process
from simulators.twilio_double import TwilioDouble


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

    async def stop_taking(self) -> None:
        """Cancel the operator's takes still under way (the run is over)."""
        for task in list(self._takes):
            task.cancel()
        await asyncio.gather(*self._takes, return_exceptions=True)
