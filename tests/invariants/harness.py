"""The real service, driven one step at a time in simulated time, for the invariant machines.

Everything is the production code, assembled by `service.bootstrap.build` over one SQLite
file: the gateway's parse and intake, the projector and views, the scheduler with the
escalation and visit timers, the outbox dispatcher, the escalation commands. What is
replaced: the clock (a FakeClock), the notifier (a scripted double that records every
send it is asked to make) and the background loops, which this harness runs itself:

- the live views (`LiveViews.run`) become `catch_up`, whose changes go to the dispatcher
  exactly as the live listener gives them;
- the scheduler loop (`Scheduler.run`, every second) becomes `tick` after each step:
  a clock jump is time the process did not run;
- the dispatcher runs in an event loop this harness owns; each step runs it until every
  send it started has finished (backoff 0 s: the tries, not the waiting, are the point).

A store outage makes the event store's and the views' connections raise
OperationalError (a PersistenceError, as PostgreSQL down does; one database holds
both): commands fail, the gateway holds device messages unacknowledged (the broker
redelivers them; here they are re-sent when the store is back), the scheduler's round
fails and is tried again at the next step. The dispatcher is not run while the store is
down: it would only retry its records, with real sleeps, until the store is back, which
is where it picks up here.

A number scripted to `dies` takes the next message and then the process dies before
the answer is recorded: the harness restarts it, and the resumed dispatcher has to find
that try unconfirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError, PersistenceError

from device_gateway.messages import DeviceReading, parse_device_message
from projections.projector import Change
from service.adapters.directory_file import load_directory
from service.adapters.notifiers.base import NotificationError
from service.application.device_intake import Intaken, Outcome
from service.bootstrap import build
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.alerts.notifications import Notification
from tests.devices import Devices, payload, topic

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; Europe/London is on UTC


class Counters:
    """What the machines checked, across examples (printed by the soak run)."""

    steps = 0
    examples = 0
    seen: dict[str, int] = {}
    """How often the situations that matter were reached (alerts taken, ladders ended...)."""

    @classmethod
    def saw(cls, what: str) -> None:
        cls.seen[what] = cls.seen.get(what, 0) + 1


# -- for the intake's machines: a device's reading, a scratch store ---------------------


def device_reading(
    device: str, kind: str, msg_id: str | None, ts: str | None = None
) -> DeviceReading:
    """A reading as the gateway parses it from the device's topic and payload (a text for
    `message`), so the machines drive the intake with what a device can send."""
    fields: dict[str, Any] = {"id": msg_id, "ts": ts, "battery": 80, "lat": 51.5, "lon": -0.1}
    if kind == "message":
        fields["text"] = "on my way"
    reading = parse_device_message(topic(device, kind), payload(**fields))
    assert isinstance(reading, DeviceReading)
    return reading


@contextlib.contextmanager
def sqlite_store() -> Iterator[str]:
    """A scratch SQLite event store's URL, removed after."""
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'events.sqlite3'}"


# -- the notifier double ---------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One send the dispatcher asked for; `provider_id` is None when it was refused."""

    index: int
    key: str
    to: str
    channel: str
    body: str
    at: datetime
    provider_id: str | None


@dataclass
class Script:
    """How one number answers on one channel: fail the next `failing` tries (retryable),
    or refuse every try for good (a permanent refusal: 21211, 21610 and the like); with
    `dies`, the provider takes the next message and the process dies before it hears so."""

    failing: int = 0
    refused: bool = False
    dies: bool = False


class ProcessDied(Exception):
    """The service process died in the middle of a send (after the provider took it)."""


class ScriptedNotifier:
    """The Notifier protocol (service/adapters/notifiers/base.py), scripted per number and channel."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.scripts: dict[tuple[str, str], Script] = {}
        self.sends: list[Send] = []
        self._ids = itertools.count(1)
        self.died = False
        """A send ended the process (`Script.dies`): the harness restarts it."""

    def script(
        self, to: str, channel: str, *, failing: int = 0, refused: bool = False, dies: bool = False
    ) -> None:
        self.scripts[(to, channel)] = Script(failing=failing, refused=refused, dies=dies)

    def _answer(self, to: str, channel: str, body: str, key: str) -> str:
        script = self.scripts.get((to, channel), Script())
        provider_id: str | None = None
        try:
            if script.refused:
                raise NotificationError("21211 invalid 'To' number", retryable=False)
            if script.failing > 0:
                script.failing -= 1
                raise NotificationError("503 service unavailable", retryable=True)
            provider_id = f"{'CA' if channel == 'voice' else 'SM'}{next(self._ids):08d}"
            if script.dies:
                script.dies, self.died = False, True
                raise ProcessDied(f"the process died sending {key} (the provider has it)")
            return provider_id
        finally:
            index = len(self.sends)
            self.sends.append(Send(index, key, to, channel, body, self.clock.now(), provider_id))

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        return self._answer(to, "sms", body, key)

    async def place_call(self, *, to: str, say: str, key: str) -> str:
        return self._answer(to, "voice", say, key)

    async def aclose(self) -> None:
        return None


# -- the store outage -------------------------------------------------------------------


class Outage:
    """Makes the event store's connection fail while `down` (the views stay readable)."""

    def __init__(self) -> None:
        self.down = False

    def wrap(self, c: Container) -> None:
        """Every way the recorder and the views reach their database (in production one
        PostgreSQL holds both, so they go down together)."""
        datastore: Any = c.app.recorder.datastore  # type: ignore[attr-defined]
        for name in ("transaction", "get_connection"):
            setattr(datastore, name, self._failing(getattr(datastore, name)))
        for name in ("_transaction", "_reading"):
            setattr(c.views, name, self._failing(getattr(c.views, name)))

    def _failing(self, original: Any) -> Any:
        @contextlib.contextmanager
        def opened(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if self.down:
                raise OperationalError("store unavailable (test outage)")
            with original(*args, **kwargs) as handle:
                yield handle

        return opened


# -- the service --------------------------------------------------------------------------


@dataclass
class Service:
    """One service process (rebuilt by `restart`) over a store that outlives it."""

    directory: Path
    database: Callable[[], AbstractContextManager[str]] | None = None
    """A PostgreSQL database of this service's own (a URL, dropped afterwards); else SQLite."""
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    outage: Outage = field(default_factory=Outage)

    def __post_init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lw-invariants-"))
        self.resources = contextlib.ExitStack()
        self.url = (
            self.resources.enter_context(self.database())
            if self.database is not None
            else f"sqlite:///{self.tmp / 'events.sqlite3'}"
        )
        self.notifier = ScriptedNotifier(self.clock)
        self.loop = asyncio.new_event_loop()
        # One worker thread (production has 8): the dispatcher's tasks still interleave at
        # every await, but their store calls run one at a time, in the order they were
        # made, so the same steps always give the same history and hypothesis can replay
        # and shrink a failure. Races between threads are the chaos run's (make chaos).
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        self.changes: list[Change] = []
        self.held: list[tuple[str, str, dict[str, Any]]] = []
        """Device messages the gateway could not record yet (store down): redelivered later."""
        self.accepted: set[tuple[str, str]] = set()
        """(device, message id) of every device message the intake accepted."""
        self.restarts = 0
        self._requested: dict[str, Notification] = {}
        self.c = self._start()
        self.c.app.import_directory(load_directory(self.directory))
        self.catch_up()

    def _start(self) -> Container:
        c = build(
            Settings(database_url=self.url),
            clock=self.clock,
            notifier=self.notifier,
            backoff=(0.0, 0.0, 0.0),
        )
        self.outage.wrap(c)
        self.devices = Devices(c.gateway.intake)
        self.c = c
        if self.restarts:  # what `wiring.running` does first: catch up, resume the outbox
            self.changes = []
            self.catch_up()
            self.changes = []
            self.loop.run_until_complete(self._resume(c))
        return c

    async def _resume(self, c: Container) -> None:
        await c.dispatcher.start()
        await self._finish_sends()

    def restart(self) -> None:
        """A new process over the same store, as `wiring.build` and `wiring.running` make it."""
        self.loop.run_until_complete(self.c.dispatcher.stop())
        self.c.close()
        self.restarts += 1
        self._start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.c.dispatcher.stop())
        with contextlib.suppress(Exception):
            self.c.close()
        self.loop.close()
        self.resources.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def up(self) -> bool:
        return not self.outage.down

    # -- what the background loops do ------------------------------------------------------

    def catch_up(self) -> None:
        self.changes.extend(self.c.projector.catch_up())

    async def _finish_sends(self) -> None:
        me = asyncio.current_task()
        while tasks := [t for t in asyncio.all_tasks() if t is not me]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _dispatch(self, changes: list[Change]) -> None:
        self.c.dispatcher.on_changes(changes)
        await self._finish_sends()

    def _submit(self, requested: tuple[Notification, ...]) -> None:
        async def send() -> None:
            self.c.dispatcher.submit_requested(list(requested))
            await self._finish_sends()

        if requested:
            self.loop.run_until_complete(send())
        if self.notifier.died:
            self.notifier.died = False
            Counters.saw("process died mid-send")
            self.restart()

    def settle(self) -> None:
        """Run the loops at the current instant until nothing more happens."""
        if not self.up:
            # The scheduler's round fails (it reads the views). The harness ticks again at
            # the next step, as a supervised loop restarts (i10-supervise); on fd38cab's
            # main `Scheduler.run` ended here for good, which this harness does not model.
            try:
                self.c.scheduler.tick()
            except PersistenceError:
                Counters.saw("scheduler round failed: store down")
            self.c.scheduler.forget_fired()
            return
        for _ in range(100):
            self.catch_up()
            changes, self.changes = self.changes, []
            sends = len(self.notifier.sends)
            self.loop.run_until_complete(self._dispatch(changes))
            if self.notifier.died:
                self.notifier.died = False
                Counters.saw("process died mid-send")
                self.restart()
            self.catch_up()
            fired = self.c.scheduler.tick()
            self.c.scheduler.forget_fired()
            if not fired and len(self.notifier.sends) == sends and not self.changes:
                return
        raise AssertionError("the service never settled: timers or sends kept coming")

    # -- devices -------------------------------------------------------------------------

    def send(self, device: str, kind: str, body: dict[str, Any]) -> Intaken | None:
        """What the gateway does with one MQTT message: record it, send what it asked for.
        With the store down the message is held (not acknowledged) and redelivered later."""
        try:
            result = self.devices.send(device, kind, body)
        except PersistenceError:
            self.held.append((device, kind, body))
            return None
        if result.outcome in (Outcome.RECORDED, Outcome.DUPLICATE) and body.get("id"):
            self.accepted.add((device, str(body["id"])))
        self._submit(result.requested)
        return result

    def redeliver_held(self) -> None:
        held, self.held = self.held, []
        for device, kind, body in held:
            self.send(device, kind, body)

    # -- reading the store -----------------------------------------------------------------

    def notification(self, key: str) -> Notification:
        """A notification as requested (its alert, step and contact never change): cached."""
        found = self._requested.get(key)
        if found is None:
            found = self._requested[key] = self.c.app.notification(UUID(key))
        return found

    def count_device_messages(self) -> dict[UUID, int]:
        """DeviceMessage events in the store, by aggregate (read from the table itself)."""
        recorder: Any = self.c.app.recorder
        schema = getattr(recorder.datastore, "schema", "")
        table = f"{schema}.{recorder.events_table_name}" if schema else recorder.events_table_name
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT originator_id, COUNT(*) AS n FROM {table} "
                "WHERE topic LIKE '%DeviceMessage.Received' GROUP BY originator_id"
            )
            rows = [list(r.values()) if isinstance(r, dict) else r for r in cursor.fetchall()]
        return {UUID(str(row[0])): int(row[1]) for row in rows}

    def pending_timers(self, action: str) -> list[dict[str, Any]]:
        timers: list[dict[str, Any]] = self.c.views.find("timer", states=["pending"], limit=100_000)
        return [t for t in timers if t["action"] == action]
