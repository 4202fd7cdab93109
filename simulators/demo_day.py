"""A school day at Lancaster School, played against a running Lonewatch for `lonewatch demo`.

Three lone home visits, in compressed time (`speed`: 10 plays ten minutes in one): the DSL
plans and authorises them; reception signs each visitor out with their fob; the fobs
heartbeat all day; the visitors text ARRIVED, LEFT and BACK as they go. Sam Jones presses
SOS at 12 Acacia Road (the device scenario `sos-during-visit`): the contact centre desks are
texted and called and do not answer, the DSL is texted and called a minute later and takes
it by pressing 1; she resolves it. Rob Ross forgets to come back: his visit goes overdue and
its ladder runs (a text and a call to Rob, reception rings the pupil's home and reports
back, SLT are not troubled) until Rob texts BACK.

Everything goes the way it would in a school: over the HTTP API with each person's own token,
over MQTT as the fobs, and through the signed SMS webhook as the visitors' phones. The
school's policy durations are divided by `speed` too (`compressed_directory`), so the
deadlines fall inside the demo.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from twilio.request_validator import RequestValidator

from service.adapters.directory_reader import parse_duration
from simulators.device import Profile, SimulatedDevice
from simulators.scenarios import ScenarioRun, sos_during_visit

HAZARDS: list[dict[str, Any]] = [
    {"hazard": h, "likelihood": "remote", "severity": "minor", "risk": "low", "controls": [c]}
    for h, c in (
        ("aggressive_person", "Inform reception and sign out"),
        ("animals", "Ask the family to put pets in another room"),
        ("driving", "Park facing the way out"),
        ("public_areas", "Keep to lit streets"),
        ("illness_or_injury", "First aid kit in the car"),
    )
]
_SHORTEST: dict[str, int] = {
    "ack_within": 1,
    "renotify_every": 1,
    "grace": 1,
    "after": 0,
    "expect_every": 5,
    "offline_after": 15,
}
"""Each policy duration compressed, and the shortest it may become: a device's silence is
not judged over less than 15 s (a busy laptop delays a heartbeat by a second or two)."""
HEARTBEAT_EVERY = 5.0
"""Seconds between the fobs' heartbeats, at any speed (well inside `offline_after`)."""


def compressed_directory(text: str, speed: float) -> str:
    """The directory with every policy duration divided by `speed` (see `_SHORTEST`)."""
    data = yaml.safe_load(text)

    def shrink(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: f"{max(_SHORTEST[k], round(parse_duration(v) / speed))}s"
                if k in _SHORTEST
                else shrink(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [shrink(v) for v in node]
        return node

    for school in data.get("schools", []):
        if "policy" in school:
            school["policy"] = shrink(school["policy"])
    return str(yaml.safe_dump(data, sort_keys=False))


@dataclass(frozen=True)
class Visitor:
    staff: str
    name: str
    phone: str
    device: str
    secret: str
    address: str
    pupil_ref: str
    purpose: str
    minutes: tuple[int, int, int]
    """Planned start, expected leaving and expected return, in day minutes."""


VISITORS = (
    Visitor("p-patel", "Priya Patel", "+447700900003", "sos-0003", "change-me-3",
            "7 Elm Close, Leigh-on-Sea SS9 3QT", "UPN-0107", "attendance", (2, 24, 30)),
    Visitor("s-jones", "Sam Jones", "+447700900001", "sos-0001", "change-me",
            "12 Acacia Road, Leigh-on-Sea SS9 1AA", "UPN-0042", "safe_and_well", (3, 40, 48)),
    Visitor("r-ross", "Rob Ross", "+447700900004", "sos-0004", "change-me-4",
            "31 Marine Parade, Southend-on-Sea SS1 2EN", "UPN-0230", "transition", (4, 14, 18)),
)  # fmt: skip
PRIYA, SAM, ROB = VISITORS
DSL_PHONE = "+441702000011"


@dataclass
class Stage:
    """Where the demo's service is, and what the day may use of it."""

    http: str
    mqtt_host: str
    mqtt_port: int
    mqtt_prefix: str
    tokens: dict[str, str]
    twilio_auth_token: str
    speed: float = 10.0
    zone: str = "Europe/London"
    say: Callable[[str], None] = print
    stop: threading.Event = field(default_factory=threading.Event)


class DemoDay:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.start = time.monotonic()
        self.t0 = datetime.now(UTC)
        self.visits: dict[str, str] = {}
        self.sms_count = 0
        self.sos_alert: str | None = None
        self.sos_code: str | None = None

    # -- time ----------------------------------------------------------------------------

    def real(self, minutes: float) -> timedelta:
        return timedelta(seconds=minutes * 60 / self.stage.speed)

    def at(self, minutes: float) -> bool:
        """Wait until day minute `minutes`; False if the demo is stopping."""
        due = self.start + minutes * 60 / self.stage.speed
        return not self.stage.stop.wait(max(0.0, due - time.monotonic()))

    def clock(self) -> str:
        return datetime.now(UTC).astimezone(ZoneInfo(self.stage.zone)).strftime("%H:%M:%S")

    def tell(self, what: str) -> None:
        self.stage.say(f"demo {self.clock()} | {what}")

    # -- the ways in -----------------------------------------------------------------------

    def api(self, user: str, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - our own service's http URL
            f"{self.stage.http}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.stage.tokens[user]}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            text = response.read().decode()
        return json.loads(text) if text else None

    def text_from(self, visitor: Visitor, body: str) -> None:
        """The visitor's phone texts the school's number (Twilio's signed webhook)."""
        self.sms_count += 1
        url = f"{self.stage.http}/webhooks/twilio/sms"
        form = {
            "From": visitor.phone,
            "Body": body,
            "MessageSid": f"SMdemo{self.t0:%H%M%S}{self.sms_count}",
        }
        signature = RequestValidator(self.stage.twilio_auth_token).compute_signature(url, form)
        request = urllib.request.Request(  # noqa: S310
            url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"X-Twilio-Signature": signature},
        )
        with urllib.request.urlopen(request, timeout=15):  # noqa: S310
            pass
        self.tell(f"{visitor.name} texts {body!r}")

    def safely(self, what: str, step: Callable[[], Any]) -> Any:
        """A step that fails is told and the day goes on (a newcomer's demo never dies)."""
        try:
            return step()
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            detail = exc.read().decode() if isinstance(exc, urllib.error.HTTPError) else str(exc)
            self.tell(f"could not {what}: {detail}")
            return None

    # -- the day -------------------------------------------------------------------------

    def plan(self, visitor: Visitor) -> None:
        start, leave, back = (self.t0 + self.real(m) for m in visitor.minutes)
        body = {
            "ref": f"demo-{self.t0:%Y%m%d-%H%M%S}-{visitor.staff}",
            "school": "lancaster",
            "staff": visitor.staff,
            "pupil_ref": visitor.pupil_ref,
            "address": visitor.address,
            "purpose": visitor.purpose,
            "planned_start": start.isoformat(),
            "expected_leave": leave.isoformat(),
            "expected_return": back.isoformat(),
            "hazards": HAZARDS,
        }
        visit = self.api("dsl1", "POST", "/visits", body)
        self.visits[visitor.staff] = visit["id"]
        # Lancaster's policy (the SEN Trust's): a lead decides whether one goes or two, and
        # why; each visitor signs that they have read the risk assessment before it is
        # authorised.
        decision = {"decision": "single", "reason": "known family; a short welfare call"}
        self.api("dsl1", "POST", f"/visits/{visit['id']}/decide", decision)
        self.api(
            visitor.staff, "POST", f"/visits/{visit['id']}/confirm", {"what": "risk_assessment"}
        )
        try:
            self.api("dsl1", "POST", f"/visits/{visit['id']}/authorise", {})
            self.tell(f"the DSL plans and authorises {visitor.name}'s visit to {visitor.address}")
        except urllib.error.HTTPError as exc:
            if "headteacher" not in exc.read().decode():
                raise
            self.api("head1", "POST", f"/visits/{visit['id']}/authorise", {})
            self.tell(
                f"{visitor.name}'s visit to {visitor.address} is outside school hours: "
                "the headteacher authorises it"
            )

    def plan_the_day(self) -> None:
        for visitor in VISITORS:
            self.plan(visitor)

    def sign_out(self, visitor: Visitor) -> None:
        """As reception would: a fob not heard from yet is switched on and tried again."""
        for attempt in range(30):
            try:
                self.api("reception1", "POST", f"/visits/{self.visits[visitor.staff]}/depart", {})
                break
            except urllib.error.HTTPError as exc:
                unheard = exc.code == 422 and "not been heard" in exc.read().decode()
                if not unheard or attempt == 29:
                    raise
                if self.stage.stop.wait(1.0):
                    return
        self.tell(f"reception signs {visitor.name} out with fob {visitor.device}")

    def press_sos(self, visitor: Visitor) -> None:
        self.tell(f"{visitor.name} presses SOS at {visitor.address}")
        run = ScenarioRun(
            host=self.stage.mqtt_host,
            port=self.stage.mqtt_port,
            prefix=self.stage.mqtt_prefix,
            device=visitor.device,
            secret=visitor.secret,
        )
        result = sos_during_visit(run)
        self.tell(f"the fob says: {'alert received' if result.ok else 'no answer yet'}")

    def sos_taken(self) -> dict[str, Any] | None:
        alerts = (self.api("dsl1", "GET", "/alerts?state=acknowledged") or {})["alerts"]
        found = [a for a in alerts if a.get("kind") == "sos" and a.get("staff") == SAM.staff]
        return found[0] if found else None

    def wait_for_sos_taken(self, until: float) -> None:
        while self.at_most(until):
            taken = self.safely("read the feed", self.sos_taken)
            if taken:
                self.sos_alert = taken["id"]
                self.sos_code = taken.get("short_code")
                self.tell(
                    f"alert {taken.get('short_code')} taken by {taken['acknowledged_by']} "
                    f"({taken.get('acknowledged_via')})"
                )
                return
        self.tell("nobody has taken the SOS yet: take it in the console")

    def at_most(self, minutes: float) -> bool:
        """True while day minute `minutes` has not come (checking every second)."""
        if time.monotonic() >= self.start + minutes * 60 / self.stage.speed:
            return False
        return not self.stage.stop.wait(1.0)

    def resolve_sos(self) -> None:
        if self.sos_alert is None:
            return
        note = "Spoke to Sam: a dog at the door, Sam left the property unhurt. No further action."
        self.api(
            "dsl1", "POST", f"/alerts/{self.sos_alert}/resolve", {"outcome": "safe", "note": note}
        )
        self.tell("the DSL resolves the SOS: safe")

    def look_at_the_board(self) -> None:
        """What reception sees: who is out and whether anyone is overdue."""
        board = (self.api("reception1", "GET", "/visits?state=out") or {}).get("visits") or []
        for visit in board:
            if visit.get("overdue"):
                names = " and ".join(visit.get("staff_names") or visit.get("staff") or [])
                self.tell(f"the visit board shows {names} overdue: the overdue ladder is running")

    def call_home_done(self) -> None:
        tasks = (self.api("reception1", "GET", "/tasks?state=open") or {})["tasks"]
        for task in tasks:
            if task.get("visit") == self.visits.get(ROB.staff):
                note = "Spoke to the parent: Rob left ten minutes ago, his phone is flat."
                body = {"outcome": "contact_made_no_concern", "note": note}
                self.api("reception1", "POST", f"/tasks/{task['id']}/done", body)
                self.tell("reception rings the pupil's home: Rob left ten minutes ago")
                return
        self.tell("no call-home task for reception yet")

    def play(self) -> None:
        """The day, minute by (compressed) minute; each step told as it is done."""
        steps: list[tuple[float, str, Callable[[], Any]]] = [
            (0, "plan the visits", self.plan_the_day),
            (2, "sign Priya out", lambda: self.sign_out(PRIYA)),
            (3, "sign Sam out", lambda: self.sign_out(SAM)),
            (4, "sign Rob out", lambda: self.sign_out(ROB)),
            (5, "text from Priya", lambda: self.text_from(PRIYA, "ARRIVED")),
            (6, "text from Sam", lambda: self.text_from(SAM, "Arrived")),
            (7, "text from Rob", lambda: self.text_from(ROB, "ARRIVED")),
            (10, "press SOS", lambda: self.press_sos(SAM)),
            (10.5, "wait for the SOS to be taken", lambda: self.wait_for_sos_taken(15)),
            (16, "resolve the SOS", self.resolve_sos),
            (17, "text from Sam", lambda: self.text_from(SAM, "LEFT")),
            (24, "text from Sam", lambda: self.text_from(SAM, "back")),
            (25, "text from Priya", lambda: self.text_from(PRIYA, "LEFT")),
            (29, "text from Priya", lambda: self.text_from(PRIYA, "BACK")),
            (30, "look at the visit board", self.look_at_the_board),
            (40, "ring the pupil's home", self.call_home_done),
            (49, "text from Rob", lambda: self.text_from(ROB, "BACK - sorry, phone died")),
        ]
        for minute, what, step in steps:
            if not self.at(minute):
                return
            self.safely(what, step)
        code = f" (lonewatch replay --alert {self.sos_code})" if self.sos_code else ""
        self.tell(
            "the school day is over. The console stays up: open History to replay the SOS"
            f"{code} and Rob's overdue visit; Ctrl-C to stop."
        )


def heartbeat_fobs(stage: Stage, every: float) -> None:
    """The three fobs, connected all day, heartbeating every `every` seconds (real)."""
    fobs = []
    for visitor in VISITORS:
        fob = SimulatedDevice(
            visitor.device,
            host=stage.mqtt_host,
            port=stage.mqtt_port,
            prefix=stage.mqtt_prefix,
            profile=Profile.FOB,
            secret=visitor.secret,
            client_id=f"demo-{visitor.device}",
        )
        if fob.connect(timeout=10):
            fobs.append(fob)
        else:
            stage.say(f"demo | fob {visitor.device} could not connect: {fob.refused}")
    battery = 96
    try:
        while not stage.stop.is_set():
            for fob in fobs:
                fob.send("heartbeat", battery=battery)
            battery = max(60, battery - 1)
            stage.stop.wait(every)
    finally:
        for fob in fobs:
            fob.close()
