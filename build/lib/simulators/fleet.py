"""A fleet of simulated devices, each its own MQTT client, heartbeating with jitter.

`rate` is messages per second for the whole fleet: each device heartbeats every
`devices / rate` seconds (±10 % jitter, first beat at a random offset), so 1,000
devices at rate 10 each beat every 100 s, and at rate 1,000 every second.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

import yaml

from simulators.device import Profile, SimulatedDevice
from simulators.mqtt_loop import SharedLoop

FLEET_SEED = "lonewatch-fleet"


def fleet_device_id(n: int) -> str:
    return f"fleet-{n:04d}"


def fleet_secret(device_id: str, seed: str = FLEET_SEED) -> str:
    """Each fleet device's broker secret, derived so the directory and the fleet agree."""
    return hmac.new(seed.encode(), device_id.encode(), hashlib.sha256).hexdigest()[:20]


def fleet_directory(
    base: dict[str, Any], devices: int, school: str | None = None
) -> dict[str, Any]:
    """`base` (a directory file's contents) plus `devices` fleet devices, each with a staff member."""
    directory = dict(base)
    school = school or directory["schools"][0]["id"]
    staff = list(directory.get("staff") or [])
    fleet_devices = list(directory.get("devices") or [])
    for n in range(1, devices + 1):
        device_id = fleet_device_id(n)
        staff.append({"id": f"fs-{n:04d}", "school": school, "name": f"Fleet Visitor {n}"})
        fleet_devices.append(
            {
                "id": device_id,
                "kind": "sos_fob",
                "staff": f"fs-{n:04d}",
                "secret": fleet_secret(device_id),
            }
        )
    directory["staff"] = staff
    directory["devices"] = fleet_devices
    return directory


def fleet_directory_yaml(base_yaml: str, devices: int) -> str:
    return yaml.safe_dump(
        fleet_directory(yaml.safe_load(base_yaml), devices), sort_keys=False, width=120
    )


@dataclass
class FleetSummary:
    devices: int
    connected: int
    seconds: float
    sent: int
    acknowledged: int
    refused: int

    def lines(self) -> list[str]:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return [
            f"devices connected: {self.connected}/{self.devices}"
            + (f" ({self.refused} refused by the broker)" if self.refused else ""),
            f"heartbeats sent: {self.sent} in {self.seconds:.1f}s ({rate:.1f}/s)",
            f"acknowledged by the broker (PUBACK): {self.acknowledged}"
            f" ({self.sent - self.acknowledged} outstanding)",
        ]


class Progress:
    """One line on stderr, redrawn at most 5 times a second."""

    def __init__(self, total_seconds: float | None, stream: IO[str] = sys.stderr) -> None:
        self.total = total_seconds
        self.stream = stream
        self._last = 0.0

    def show(self, elapsed: float, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        if self.total:
            done = min(1.0, elapsed / self.total)
            bar = "#" * int(done * 30) + "." * (30 - int(done * 30))
            self.stream.write(f"\r[{bar}] {elapsed:5.1f}/{self.total:.0f}s {text}   ")
        else:
            self.stream.write(f"\r{elapsed:7.1f}s {text}   ")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run_fleet(
    *,
    host: str,
    port: int,
    devices: int,
    rate: float,
    duration: float | None,
    prefix: str = "",
    with_secrets: bool = True,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> FleetSummary:
    """Connect `devices` fleet devices and heartbeat at `rate` messages/s in total."""
    if rate <= 0 or devices <= 0:
        raise ValueError("--devices and --rate must be positive")
    loops = [SharedLoop(f"fleet-loop-{k}") for k in range(max(1, devices // 500))]
    fleet = [
        SimulatedDevice(
            fleet_device_id(n),
            host=host,
            port=port,
            prefix=prefix,
            profile=Profile.FOB,
            secret=fleet_secret(fleet_device_id(n)) if with_secrets else None,
            loop=loops[n % len(loops)],
        )
        for n in range(1, devices + 1)
    ]
    with ThreadPoolExecutor(max_workers=32) as pool:
        connected = sum(pool.map(lambda d: d.connect(timeout=30), fleet))
    interval = devices / rate
    start = time.monotonic()
    due = [(start + random.uniform(0, interval), n) for n in range(devices)]
    heapq.heapify(due)
    battery = dict.fromkeys(range(devices), 100)
    try:
        try:
            while not should_stop():
                now = time.monotonic()
                elapsed = now - start
                if duration is not None and elapsed >= duration:
                    break
                while due and due[0][0] <= now:
                    _, n = heapq.heappop(due)
                    if random.random() < 0.01:
                        battery[n] = max(0, battery[n] - 1)
                    fleet[n].send("heartbeat", battery=battery[n])
                    heapq.heappush(due, (now + interval * random.uniform(0.9, 1.1), n))
                if progress is not None:
                    sent = sum(d.counts.sent for d in fleet)
                    acked = sum(d.counts.acknowledged for d in fleet)
                    progress.show(elapsed, f"sent {sent} acked {acked} ({connected} connected)")
                time.sleep(max(0.0, min(0.05, (due[0][0] - time.monotonic()) if due else 0.05)))
        except KeyboardInterrupt:
            pass  # Ctrl-C: stop sending, report what was sent
        # Give the broker a moment to acknowledge what is in flight.
        settle = time.monotonic() + 5
        while time.monotonic() < settle:
            if sum(d.counts.acknowledged for d in fleet) >= sum(d.counts.sent for d in fleet):
                break
            time.sleep(0.05)
    finally:
        seconds = time.monotonic() - start
        if progress is not None:
            sent = sum(d.counts.sent for d in fleet)
            acked = sum(d.counts.acknowledged for d in fleet)
            progress.show(seconds, f"sent {sent} acked {acked}", force=True)
            progress.done()
        summary = FleetSummary(
            devices=devices,
            connected=connected,
            seconds=seconds,
            sent=sum(d.counts.sent for d in fleet),
            acknowledged=sum(d.counts.acknowledged for d in fleet),
            refused=sum(1 for d in fleet if d.refused),
        )
        for device in fleet:
            device.close()
        time.sleep(0.2)  # let the loops send the DISCONNECTs
        for loop in loops:
            loop.stop()
    return summary
