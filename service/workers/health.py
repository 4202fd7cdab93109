"""What `/api/v1/health` knows: is each part of the alarm path working, and if not, why.

"ok" only when all is well; otherwise "degraded" with one sentence per reason, for an
operator woken at 2 am (docs/operations.md says what to do about each). The store is
asked on a thread of its own with a time limit: while the database is down a store
call can block for many seconds, and health must still answer within a second.

Health is given, at construction, each part it reads (below the composition root, it
knows none of it): the loops, the timers, the gateway and broker sessions (as the small
protocols here), the dispatcher and the store (through `store_reader`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from service.clock import Clock
from service.workers.dispatcher import Dispatcher
from service.workers.scheduler import Scheduler
from service.workers.store_probe import StoreProbe, StoreReading
from service.workers.supervisor import Supervisor

if TYPE_CHECKING:
    from collections import Counter


STUCK_AFTER = 60.0
"""A notification requested this long ago and still not sent (or a try in flight this
long) is stuck: the dispatcher's own retries are over by ~20 s."""
FAILING_FOR = 60.0
"""A device message left unrecorded within this many seconds makes health degraded."""
LEASE_UNHELD_AFTER = 10.0
"""A lease that expired this many seconds ago and nobody took: no process is sending (or
firing timers); each process asks for it twice a second."""
WHAT_TO_DO = (
    "docs/operations.md, 'What each reason means, and what to do': one row per reason, by "
    "its first words. Meanwhile phone whoever an open alarm should have reached."
)
ALARM_BACKLOG = 50
"""Alarm messages waiting in the gateway's alarm lane beyond this are a problem."""


class RecentIncrease:
    """When a cumulative counter last went up, as seen by successive health checks."""

    def __init__(self) -> None:
        self.value = 0
        self.at: float | None = None

    def see(self, value: int) -> float | None:
        """Seconds since the counter last increased (None if it never has)."""
        now = time.monotonic()
        if value > self.value:
            self.value, self.at = value, now
        return None if self.at is None else now - self.at


class GatewayState(Protocol):
    """What health reads of the device gateway (device_gateway.gateway.Gateway)."""

    @property
    def stats(self) -> Counter[str]: ...
    @property
    def backlog(self) -> dict[str, int]: ...
    @property
    def reading_paused(self) -> bool: ...


class Session(Protocol):
    @property
    def connected(self) -> bool: ...


class BrokerState(Protocol):
    """The gateway's broker sessions (device_gateway.sessions.BrokerSessions): none
    until MQTT is started."""

    @property
    def main(self) -> Session | None: ...
    @property
    def alarm(self) -> Session | None: ...


class LeaseState(Protocol):
    """A role's lease as this process holds it (service.workers.leadership.HeldLease)."""

    name: str

    def status(self) -> dict[str, Any]: ...


class ArcState(Protocol):
    """What health reads of the ARC sender (service.workers.arc_sender.ArcSender)."""

    @property
    def health(self) -> Mapping[str, object]: ...
    def report(self) -> dict[str, Any]: ...
    def problems(self) -> list[str]: ...


@dataclass
class Health:
    probe: StoreProbe
    supervisor: Supervisor
    scheduler: Scheduler
    gateway: GatewayState
    broker: BrokerState
    dispatcher: Dispatcher
    clock: Clock
    notifier: str
    """The notifier's name, as the body shows it."""
    embedded_broker: bool
    broker_details: Callable[[], Mapping[str, object]] | None = None
    """More about the broker connection, where it says more (NATS: the server connected
    to, the stream, messages held unacknowledged)."""
    arc: ArcState | None = None
    """Schools' alarm receiving centres (service/workers/arc_sender.py), when any has one."""
    leases: Sequence[LeaseState] = ()
    """The outbox and timers leases: which process sends and fires."""
    holder: str = ""
    """This process, as the leases name it."""
    gateway_failed: RecentIncrease = field(default_factory=RecentIncrease)

    def close(self) -> None:
        self.probe.close()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(all well, the response body)."""
        reasons: list[str] = []
        checks: dict[str, Any] = {}
        reading = await self.probe.probe()
        checks["event_store"] = self._store(reading, reasons)
        checks["projections"] = self._projections(reading)
        checks["loops"] = self.supervisor.report()
        reasons.extend(self.supervisor.problems())
        checks["timers"] = _timers(self.scheduler, reasons)
        broker = _broker(self.broker, self.embedded_broker, reasons)
        if broker is not None and self.broker_details is not None:
            broker.update(self.broker_details())
        if broker is not None:
            checks["broker"] = broker
        checks["gateway"] = self._gateway(reasons)
        checks["notifications"] = self._notifications(reading, reasons)
        if self.leases:
            checks["leases"] = self._leases(reading, reasons)
        if self.arc is not None and self.arc.health:
            checks["arc"] = self.arc.report()
            reasons.extend(self.arc.problems())
        ok = not reasons
        body: dict[str, Any] = {"status": "ok" if ok else "degraded", "reasons": reasons}
        if not ok:
            # Whoever reads this at 2 am has the JSON, not the repository's index.
            body["what_to_do"] = WHAT_TO_DO
        body["checks"] = checks
        return ok, body

    def _store(self, reading: StoreReading, reasons: list[str]) -> dict[str, Any]:
        last_ok = self.probe.last_ok
        doc: dict[str, Any] = {
            "ok": reading.reachable,
            "reachable": reading.reachable,
            "latency_s": reading.latency_s,
            "head": reading.head if reading.reachable else (last_ok.head if last_ok else None),
            "error": reading.error,
            "last_error": self.probe.last_error,
            "last_error_age_s": _age(self.probe.last_error_at),
        }
        if not reading.reachable:
            reasons.append(f"store: unreachable ({reading.error})")
        return doc

    def _projections(self, reading: StoreReading) -> dict[str, Any]:
        live = self.supervisor.loops.get("live-views")
        error = live.last_error if live is not None and live.consecutive_failures else None
        doc: dict[str, Any] = {"ok": error is None, "error": error}
        if reading.head is not None and reading.position is not None:
            doc.update(position=reading.position, lag=reading.head - reading.position)
        return doc

    def _gateway(self, reasons: list[str]) -> dict[str, Any]:
        stats: dict[str, Any] = dict(self.gateway.stats)
        backlog = self.gateway.backlog
        stats["backlog"] = backlog
        # Not a reason: under a flood the main session reads only as fast as the store
        # records (the rest waits at the broker); the alarm session never waits.
        stats["reading_paused"] = self.gateway.reading_paused
        # A batch that fails is split and its bad message recorded as rejected: handled.
        # A message whose rejection cannot be recorded either is held unacknowledged at
        # the broker (a slot of its in-flight window), and is a bug.
        unrecorded = int(self.gateway.stats.get("rejections_unrecorded", 0))
        failed_ago = self.gateway_failed.see(unrecorded)
        stats["last_unrecorded_age_s"] = None if failed_ago is None else round(failed_ago, 1)
        if failed_ago is not None and failed_ago < FAILING_FOR:
            reasons.append(
                f"gateway: a device message could be neither recorded nor rejected "
                f"{failed_ago:.0f} s ago ({unrecorded} since start); the broker holds it"
            )
        held = int(self.gateway.stats.get("held", 0))
        if held:
            # Shown while it lasts: the store's own reason says it is down, but not that
            # presses are waiting on it, which is what decides how urgent the night is.
            reasons.append(
                f"gateway: {held} device messages held, unacknowledged, until the store "
                "records them (the broker keeps them; they are recorded when it answers)"
            )
        if backlog.get("alarm", 0) > ALARM_BACKLOG:
            reasons.append(f"gateway: {backlog['alarm']} alarm messages waiting to be recorded")
        return stats

    def _notifications(self, reading: StoreReading, reasons: list[str]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "sent": self.dispatcher.sent,
            "failed": self.dispatcher.failed,
            "sending": self.dispatcher.sending,
            "notifier": self.notifier,
        }
        tries = self.dispatcher.tries
        failed_at, sent_at = tries.last_failed_try_at, tries.last_sent_at
        if failed_at is not None and (sent_at is None or sent_at < failed_at):
            ago = time.monotonic() - failed_at
            doc["last_failed_try_age_s"] = round(ago, 1)
            if ago < FAILING_FOR:
                # Retried and then given up on (each with a notification_failed alert), but
                # until then nothing said that no text or call was getting out at all.
                reasons.append(
                    f"notifications: the last try failed {ago:.0f} s ago and none has been "
                    f"sent since ({tries.last_failed_try})"
                )
        if not reading.reachable:
            return doc  # unknown while the store is down; the store's reason says so
        now = self.clock.now()
        waiting, in_flight = [], []
        for n in reading.requested:
            if self.dispatcher.is_sending(n["id"]):
                continue  # being tried here, with backoff between tries: not stuck
            if n.get("in_flight"):
                since = n.get("attempt_started_at") or n.get("requested_at")
                if _older_than(since, now, STUCK_AFTER):
                    in_flight.append(n)
            elif _older_than(n.get("requested_at"), now, STUCK_AFTER):
                waiting.append(n)
        doc.update(
            requested=len(reading.requested), stuck=len(waiting), stuck_in_flight=len(in_flight)
        )
        if waiting:
            reasons.append(
                f"notifications: {len(waiting)} requested more than {STUCK_AFTER:.0f} s ago "
                "and not sent"
            )
        if in_flight:
            reasons.append(
                f"notifications: {len(in_flight)} tries in flight for more than {STUCK_AFTER:.0f} s "
                "with no answer from the provider"
            )
        return doc

    def _leases(self, reading: StoreReading, reasons: list[str]) -> dict[str, Any]:
        """Which process holds each role's lease (from the store), and whether this one does."""
        rows = {row.name: row for row in reading.leases}
        doc: dict[str, Any] = {"this_process": self.holder}
        for lease in self.leases:
            entry: dict[str, Any] = {"held_here": lease.status()}
            row = rows.get(lease.name)
            if row is not None:
                entry.update(
                    holder=row.holder,
                    token=row.token,
                    since=row.acquired_at,
                    expires_in_s=None if row.expires_in == float("inf") else row.expires_in,
                )
                if row.expires_in < -LEASE_UNHELD_AFTER:
                    reasons.append(
                        f"leases: no process has held the {lease.name} lease for "
                        f"{-row.expires_in:.0f} s (last {row.holder})"
                    )
            doc[lease.name] = entry
        return doc


def _timers(scheduler: Scheduler, reasons: list[str]) -> dict[str, Any]:
    failing = dict(scheduler.failing)
    for timer_id, f in failing.items():
        reasons.append(
            f"timers: {f.action} {timer_id} failing for {time.monotonic() - f.since:.0f} s "
            f"({f.error})"
        )
    return {
        "fired": scheduler.fired,
        "failing": {
            timer_id: {"action": f.action, "error": f.error, "for_s": _age(f.since)}
            for timer_id, f in failing.items()
        },
    }


def _age(since: float | None) -> float | None:
    return None if since is None else round(time.monotonic() - since, 1)


def _broker(broker: BrokerState, embedded: bool, reasons: list[str]) -> dict[str, Any] | None:
    links = {"devices": broker.main, "alarms": broker.alarm}
    sessions = {name: link.connected for name, link in links.items() if link is not None}
    if not sessions:
        return None
    for name, connected in sessions.items():
        if not connected:
            # Why, where the link knows (MqttLink.why_not): "not connected" alone left the
            # operator to find a refused password in the log.
            why = getattr(links[name], "why_not", None)
            detail = f" ({why})" if why else ""
            reasons.append(f"broker: the {name} session is not connected{detail}")
    return {
        "ok": all(sessions.values()),
        "embedded": embedded,
        "sessions": {name: {"connected": connected} for name, connected in sessions.items()},
    }


def _older_than(instant: str | None, now: datetime, seconds: float) -> bool:
    if not instant:
        return False
    return (now - datetime.fromisoformat(instant)).total_seconds() > seconds
