"""The chaos run's plan (benchmarks/chaos.py): its faults, targets, directory and bounds;
and the records of what the harness did (messages sent, SOS presses, each fault's window)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

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
