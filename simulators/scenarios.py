"""Scenarios a device can play against a running Lonewatch, each checking what the device
itself can see (its PUBACKs and its `cmd` topic). Tests run them and also check the store.

`lonewatch simulate scenario NAME` runs one; every scenario is a plain function of a
`ScenarioRun` (where the broker is, which device to be) returning its checks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.device import Profile, SimulatedDevice


@dataclass(frozen=True)
class ScenarioRun:
    host: str = "127.0.0.1"
    port: int = 1884
    prefix: str = ""
    device: str = "sos-0001"
    secret: str | None = None
    safe_word: str = "bluebird"
    wait: float = 10.0
    """How long to wait for an answer (alert_received) before the check fails."""
    quiet: float = 2.0
    """How long 'nothing came back' is watched for."""
    http: str = "http://127.0.0.1:8080"
    """Lonewatch's HTTP address, for a scenario that plays Traccar."""
    token: str | None = None
    """`lonewatch token create --integration traccar`, for traccar-sos."""


@dataclass
class ScenarioResult:
    name: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    sent: int = 0
    notes: list[str] = field(default_factory=list)

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok in self.checks)

    def lines(self) -> list[str]:
        lines = [f"scenario {self.name}: {'ok' if self.ok else 'FAILED'} ({self.sent} sent)"]
        lines += [f"  [{'x' if ok else ' '}] {what}" for what, ok in self.checks]
        lines += [f"  note: {note}" for note in self.notes]
        return lines


def _device(run: ScenarioRun, profile: Profile = Profile.PHONE) -> SimulatedDevice:
    device = SimulatedDevice(
        run.device,
        host=run.host,
        port=run.port,
        prefix=run.prefix,
        profile=profile,
        secret=run.secret,
        client_id=f"sim-{run.device}-{time.time_ns() % 10**8}",
    )
    if not device.connect(timeout=run.wait):
        device.close()
        raise ConnectionError(
            f"device {run.device} could not connect to {run.host}:{run.port}"
            + (f": {device.refused}" if device.refused else "")
        )
    return device


def _until(condition: Callable[[], bool], seconds: float, device: SimulatedDevice) -> bool:
    """Wait, repeating alarms as a device does, until `condition` or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        device.repeat_due()
        time.sleep(0.02)
    return condition()


def _all_acknowledged(device: SimulatedDevice, seconds: float) -> bool:
    return _until(lambda: device.counts.acknowledged >= device.counts.sent, seconds, device)


def _alarm(
    run: ScenarioRun, name: str, kind: str, lead_in: list[tuple[str, dict[str, Any]]]
) -> ScenarioResult:
    result = ScenarioResult(name)
    device = _device(run)
    try:
        for lead_kind, fields in lead_in:
            device.send(lead_kind, **fields)
        device.send(kind, lat=51.5406, lon=0.7123, acc=15, battery=64)
        got = _until(lambda: bool(device.alerts_received()), run.wait, device)
        result.check(f"{kind} answered with alert_received", got)
        result.check("the device stopped repeating", not device.waiting_for_alert_received)
        if device.counts.repeats:
            result.notes.append(f"repeated {device.counts.repeats} time(s) before the answer")
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


def sos_during_visit(run: ScenarioRun) -> ScenarioResult:
    """Arrive (check-in), heartbeat, then press SOS: answered with alert_received."""
    return _alarm(
        run,
        "sos-during-visit",
        "sos",
        [("checkin", {}), ("location", {"lat": 51.54, "lon": 0.71}), ("heartbeat", {})],
    )


def fall(run: ScenarioRun) -> ScenarioResult:
    """A fall detected: a red alert like SOS, answered with alert_received."""
    return _alarm(run, "fall", "fall", [("heartbeat", {"battery": 70})])


def duress_text(run: ScenarioRun) -> ScenarioResult:
    """A text with the safe word: recorded and alerted silently; the phone hears nothing."""
    result = ScenarioResult("duress-text")
    device = _device(run)
    try:
        device.send("message", text=f"All fine here, {run.safe_word.title()}. Back by four")
        result.check("the broker took the text", _all_acknowledged(device, run.wait))
        time.sleep(run.quiet)
        result.check("nothing came back to the phone", device.counts.commands == [])
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


def device_goes_silent(run: ScenarioRun) -> ScenarioResult:
    """A few heartbeats, then nothing (a flat battery, a lost signal)."""
    result = ScenarioResult("device-goes-silent")
    device = _device(run)
    try:
        for _ in range(3):
            device.send("heartbeat")
        result.check("heartbeats taken", _all_acknowledged(device, run.wait))
        result.notes.append("the device is now silent; offline alerts apply during a visit")
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


def battery_runs_down(run: ScenarioRun) -> ScenarioResult:
    """Battery readings from 100 down to 5 in steps of 5."""
    result = ScenarioResult("battery-runs-down")
    device = _device(run)
    try:
        for level in range(100, 0, -5):
            device.send("battery", battery=level)
        result.check("every reading taken", _all_acknowledged(device, run.wait))
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


def duplicate_deliveries(run: ScenarioRun) -> ScenarioResult:
    """The same heartbeat and the same SOS three times each: recorded once, answered each time."""
    result = ScenarioResult("duplicate-deliveries")
    device = _device(run)
    try:
        stamp = time.time_ns()
        for _ in range(3):
            device.send("heartbeat", id=f"dup-hb-{stamp}")
            device.send("sos", id=f"dup-sos-{stamp}")
        got = _until(lambda: len(device.alerts_received()) >= 3, run.wait, device)
        result.check("each SOS copy answered", got)
        result.check("all name one alert", len(set(device.alerts_received())) == 1)
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


MALFORMED: list[tuple[str, bytes]] = [
    ("sos", b"{not json"),
    ("heartbeat", b"\xff\xfe"),
    ("heartbeat", b"[1, 2]"),
    ("heartbeat", b"{" + b" " * 5000 + b"}"),
    ("battery", json.dumps({"battery": "full"}).encode()),
    ("teleport", b"{}"),
]


def malformed_messages(run: ScenarioRun) -> ScenarioResult:
    """Bad JSON, bad encoding, not an object, oversize, a wrong type, an unknown kind —
    then a valid heartbeat: each refused with a counted reason, valid traffic goes on."""
    result = ScenarioResult("malformed-messages")
    device = _device(run)
    try:
        for kind, body in MALFORMED:
            device.publish_raw(device.topic(kind), body)
        device.send("heartbeat")
        result.check("the broker took every message", _all_acknowledged(device, run.wait))
        result.sent = device.counts.sent
        result.notes.append("see rejected:* in /api/v1/health for the reasons counted")
    finally:
        device.close()
    return result


def clock_skewed_device(run: ScenarioRun) -> ScenarioResult:
    """A device whose clock is two hours ahead: kept, flagged as clock skew."""
    result = ScenarioResult("clock-skewed-device")
    device = _device(run)
    try:
        ahead = datetime.now(UTC) + timedelta(hours=2)
        device.send("heartbeat", ts=ahead.isoformat())
        device.send("heartbeat", ts=int((ahead.timestamp()) * 1000))
        result.check("both taken", _all_acknowledged(device, run.wait))
        result.sent = device.counts.sent
    finally:
        device.close()
    return result


def sos_to_arc(run: ScenarioRun) -> ScenarioResult:
    """SOS pressed; the school's alarm receiving centre receives PA (simulators/arc.py)."""
    from simulators.arc import sos_to_arc as play  # pysiaalarm only when played

    return play(run)


SCENARIOS: dict[str, Callable[[ScenarioRun], ScenarioResult]] = {
    "sos-during-visit": sos_during_visit,
    "duress-text": duress_text,
    "device-goes-silent": device_goes_silent,
    "battery-runs-down": battery_runs_down,
    "fall": fall,
    "duplicate-deliveries": duplicate_deliveries,
    "malformed-messages": malformed_messages,
    "clock-skewed-device": clock_skewed_device,
    "sos-to-arc": sos_to_arc,
}

VIA_OTHER_SYSTEMS: dict[str, Callable[[ScenarioRun], ScenarioResult]] = {
    "traccar-sos": lambda run: _integration("traccar_sos", run),
    "owntracks-leave": lambda run: _integration("owntracks_leave", run),
}
"""Devices behind Traccar or OwnTracks: played by name only (not by `all`), since they
need a Traccar token or a phone in the directory."""


def _integration(name: str, run: ScenarioRun) -> ScenarioResult:
    """Devices behind another system (simulators/integration_scenarios.py)."""
    from simulators import integration_scenarios

    play: Callable[[ScenarioRun], ScenarioResult] = getattr(integration_scenarios, name)
    return play(run)
