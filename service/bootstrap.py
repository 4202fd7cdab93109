"""The one place where the object graph is assembled (cosmicpython's bootstrap).

`build` makes the real parts from settings, each given what it needs at construction
(nothing is completed afterwards); tests pass their own clock or notifier. `running` is
the aiohttp cleanup context that starts and stops every background task in one place;
`create_app` hands the parts to the HTTP app factory (service/entrypoints/http/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from device_gateway.gateway import Gateway
from device_gateway.messages import alerts_topic, cmd_topic
from device_gateway.mqtt_link import MqttLink
from device_gateway.sessions import BrokerSessions
from projections.projector import Change, Projector
from projections.store import ViewStore, dumps, open_view_store
from service.adapters.alarm_priority import AlarmPriority
from service.adapters.event_store import (
    eventsourcing_env,
    quick_recovery,
    views_location,
    with_startup_retries,
)
from service.adapters.merkle_log import MerkleLog
from service.adapters.notifiers.base import Notifier
from service.adapters.signing import SigningKey
from service.application import acknowledgement, escalation_timers
from service.application.lonewatch import Lonewatch
from service.application.visit_deadlines import with_timer_actions as visit_timers
from service.clock import Clock, SystemClock
from service.config import Settings
from service.entrypoints.http import app as http_app
from service.entrypoints.http.keys import DeviceInbox
from service.logs import get_logger
from service.workers.arc_sender import ArcSender, ArcTiming
from service.workers.dispatcher import DEFAULT_BACKOFF, Dispatcher
from service.workers.health import Health, StoreProbe, store_reader
from service.workers.live import Hub, Listener, LiveViews, public_change
from service.workers.pools import WorkPools
from service.workers.scheduler import Scheduler
from service.workers.supervisor import LoopState, Supervisor

if TYPE_CHECKING:
    from device_gateway.embedded_broker import EmbeddedBroker

log = get_logger(__name__)


@dataclass
class Container:
    settings: Settings
    clock: Clock
    app: Lonewatch
    views: ViewStore
    projector: Projector
    live: LiveViews
    hub: Hub
    notifier: Notifier
    dispatcher: Dispatcher
    gateway: Gateway
    scheduler: Scheduler
    sessions: BrokerSessions
    """The gateway's broker sessions: none until MQTT is started (`running`)."""
    supervisor: Supervisor
    health: Health
    pools: WorkPools
    """Password checks, made-up credentials and exports: never on the default executor."""
    broker: EmbeddedBroker | None = None
    """amqtt in process, for `LW_MQTT_URL=embedded` (made here, started by `running`)."""
    arc: ArcSender | None = None
    """Red alerts to schools' alarm receiving centres (SIA DC-09), and their supervision."""
    phones_link: MqttLink | None = None
    """OwnTracks phones' topics (device_gateway/owntracks_link.py), when the directory has
    any: opened by `running`, like the gateway's sessions."""
    merkle: MerkleLog | None = None
    """The Merkle log over every stored event (docs/security.md); followed by its own loop."""
    signing_key: SigningKey | None = None
    """Signs the log's tree heads (`LW_SIGNING_KEY`); without it heads are kept unsigned."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Unsupervised one-shot tasks, cancelled at shutdown; loops go to `supervisor.start`."""

    @property
    def link(self) -> MqttLink | None:
        """The main broker session: every device message."""
        return self.sessions.main

    @property
    def alarm_link(self) -> MqttLink | None:
        """The gateway's second broker session: sos and fall only (docs/gateway.md)."""
        return self.sessions.alarm

    def close(self) -> None:
        self.health.close()
        self.pools.close()  # their jobs use the store: done before it closes
        self.views.close()
        self.app.close()


def make_notifier(settings: Settings) -> Notifier:
    twilio = settings.twilio
    if twilio is None:
        from service.adapters.notifiers.console_notifier import ConsoleNotifier

        return ConsoleNotifier()
    from service.adapters.notifiers.twilio_notifier import TwilioNotifier

    return TwilioNotifier(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        from_number=twilio.from_number,
        api_base=twilio.api_base,
        public_url=settings.effective_public_url,
    )


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    arc_timing: ArcTiming | None = None,
) -> Container:
    """`backoff` is the dispatcher's wait between tries (tests make it short)."""
    clock = clock or SystemClock()
    env = eventsourcing_env(settings.database_url, settings.cipher_key)
    views = with_startup_retries(lambda: open_view_store(views_location(settings.database_url)))
    priority = AlarmPriority()  # alarms first at the store's lock: gateway and dispatcher
    app = with_startup_retries(
        lambda: Lonewatch(
            env,
            clock,
            alert_finder=acknowledgement.find_by_schools(views),
            before_insert=priority.at_lock,
        )
    )
    quick_recovery(app.recorder)
    projector = Projector(app.recorder, app.mapper, views)
    notifier = notifier or make_notifier(settings)
    dispatcher = Dispatcher(app, views, notifier, backoff=backoff, priority=priority)
    # The links deliver to the gateway and the gateway acks on them: the gateway is given
    # the sessions (links made when MQTT starts), the links its callbacks (`_start_mqtt`).
    sessions = BrokerSessions(
        settings.mqtt,
        client_id=settings.mqtt_client_id,
        prefix=settings.mqtt_topic_prefix,
        share_group=settings.mqtt_share_group,
    )
    gateway = Gateway(
        app,
        sessions=sessions,
        on_notifications=dispatcher.submit_requested,
        prefix=settings.mqtt_topic_prefix,
        priority=priority,
    )
    scheduler = visit_timers(Scheduler(views, clock, escalation_timers.timer_actions(app)), app)
    hub = Hub()
    arc_timing = arc_timing or ArcTiming()
    arc = ArcSender(
        app,
        views,
        backoff=arc_timing.backoff,
        unreachable_after=arc_timing.unreachable_after,
        answer_within=arc_timing.answer_within,
        supervision=arc_timing.supervision,
    )
    live = LiveViews(
        projector,
        poll_interval=settings.poll_interval,
        listeners=[
            hub.publish,
            dispatcher.on_changes,
            _directory_watch(app),
            _fan_out_to_mqtt(sessions, settings.mqtt_topic_prefix),
            _tick_when_due(scheduler, clock),
            arc.on_changes,
        ],
    )
    # The application wakes the views after each commit, and the views read the
    # application's recorder (which eventsourcing makes inside the application): the one
    # cycle of objects left, kept as a subscription, an observer the application does not
    # need in order to work.
    app.add_listener(live.wake)
    supervisor = Supervisor()
    health = Health(
        StoreProbe(store_reader(projector, views)),
        supervisor=supervisor,
        scheduler=scheduler,
        gateway=gateway,
        broker=sessions,
        dispatcher=dispatcher,
        clock=clock,
        notifier=type(notifier).__name__,
        embedded_broker=settings.mqtt.embedded,
        arc=arc,
    )
    return Container(
        settings=settings,
        clock=clock,
        app=app,
        views=views,
        projector=projector,
        live=live,
        hub=hub,
        notifier=notifier,
        dispatcher=dispatcher,
        gateway=gateway,
        scheduler=scheduler,
        sessions=sessions,
        supervisor=supervisor,
        health=health,
        pools=WorkPools(),
        broker=_embedded_broker(settings),
        arc=arc,
        merkle=MerkleLog(app.recorder),
        signing_key=SigningKey.from_setting(settings.signing_key) if settings.signing_key else None,
    )


def _embedded_broker(settings: Settings) -> EmbeddedBroker | None:
    if not settings.mqtt.embedded:
        return None
    from device_gateway.embedded_broker import EmbeddedBroker  # amqtt: only when asked for

    return EmbeddedBroker(host=settings.mqtt.host, port=settings.mqtt.port)


def _fan_out_to_mqtt(sessions: BrokerSessions, prefix: str) -> Listener:
    """Every alert change goes to lw/v1/alerts/{school}; an acknowledgement also to the device."""

    def listener(changes: list[Change]) -> None:
        link = sessions.main
        if link is None:
            return
        for change in changes:
            if change.kind != "alert":
                continue
            doc = change.doc
            link.publish(alerts_topic(prefix, doc["school"]), dumps(public_change(change)).encode())
            # A silent (duress) alert says nothing back to the device in anyone's hands.
            if change.event == "Alert.Acknowledged" and doc.get("device") and not doc.get("silent"):
                payload = {
                    "type": "acknowledged",
                    "alert_id": doc["id"],
                    "by": doc["acknowledged_by"],
                }
                link.publish(cmd_topic(prefix, doc["device"]), json.dumps(payload).encode())

    return listener


def _tick_when_due(scheduler: Scheduler, clock: Clock) -> Listener:
    """A timer written already due (an alert's first escalation step) fires at once,
    not at the scheduler's next round: the (supervised) scheduler loop is woken. So is
    one due before that round: the woken round reads it and waits for exactly its time."""

    def listener(changes: list[Change]) -> None:
        soon = clock.now() + timedelta(seconds=SCHEDULER_INTERVAL)
        if any(
            ch.kind == "timer"
            and ch.doc.get("state") == "pending"
            and datetime.fromisoformat(ch.doc["due_at"]) <= soon
            for ch in changes
        ):
            scheduler.wake()

    return listener


def _directory_watch(app: Lonewatch) -> Listener:
    def listener(changes: list[Change]) -> None:
        if any(change.kind == "directory-changed" for change in changes):
            app.forget_directory_cache()

    return listener


async def _start_mqtt(c: Container) -> None:
    """The gateway's lanes first, then the alarm session, then (once the alarm session has
    subscribed) the main one: device_gateway/sessions.py says why."""
    if c.broker is not None:
        await c.broker.start()
        log.info("embedded_broker_started", port=c.settings.mqtt.port)
    c.supervisor.start("gateway", lambda _: c.gateway.run())
    await asyncio.sleep(0)  # let the gateway take its queues before paho can deliver
    c.sessions.open(
        on_message=c.gateway.receive_threadsafe, on_alarm=c.gateway.receive_alarm_threadsafe
    )
    await _start_owntracks(c, "v311" if c.settings.mqtt.embedded else "v5")
    # Not awaited here: start-up (and the health endpoint) must not wait for a broker.
    c.tasks.append(asyncio.create_task(c.sessions.start_main(), name="mqtt-main-start"))


async def _start_owntracks(c: Container, protocol: Literal["v5", "v311"]) -> None:
    """A session for the directory's OwnTracks phones (INTERFACES.md section 8), if any; a
    phone added to the directory is subscribed at the next start."""
    from device_gateway.mqtt_link import MqttLink
    from device_gateway.owntracks import subscriptions
    from device_gateway.owntracks_link import OwnTracksPhones
    from service.application.integrations import owntracks_topics
    from service.application.phones import phone_left_region

    topics = await asyncio.to_thread(owntracks_topics, c.app)
    if not topics:
        return
    phones = OwnTracksPhones(
        c.gateway.intake,
        topics,
        on_left=lambda device, region: phone_left_region(c.app, device, region),
        on_recorded=c.live.wake,
        stats=c.gateway.stats,
    )
    c.phones_link = MqttLink(
        c.settings.mqtt,
        client_id=f"{c.settings.mqtt_client_id}-owntracks",
        subscriptions=subscriptions(topics),
        on_message=phones.receive_threadsafe,
        protocol=protocol,
    )
    phones.bind(c.phones_link)
    c.supervisor.start("owntracks", phones.run)
    await asyncio.sleep(0)  # the loop takes its queue before paho can deliver
    c.phones_link.start()


SCHEDULER_INTERVAL = 1.0
QUICK_RESTART_DELAY = 0.2
"""The scheduler and the live views are started again this soon after a failed round, every
time (no doubling to the supervisor's 2 s): while the store is down each round fails within
its pool's wait, and once it is back the scheduler's first round, and the live views that
hand each recorded step's messages to the dispatcher, must come within one interval
(issue 10: no step later than one scheduler interval after recovery)."""
GIL_SWITCH_INTERVAL = 0.001
"""How long a thread may hold the GIL while another waits for it (Python's default is
5 ms). Under a heartbeat flood paho's thread and the bulk lane are busy in Python; the
alarm path makes a dozen short hops between the loop, its worker thread and the database
for each SOS, and each hop waited up to a whole interval for the GIL. At 1 ms the SOS
figure under the flood improved (docs/performance.md, "SOS under load") with no measurable
loss in heartbeats recorded."""


def _supervise_loops(c: Container) -> None:
    """The loops that keep alarms moving; each beats after every round that worked, and
    health calls one stale after missing several of its rounds."""

    async def scheduler(state: LoopState) -> None:
        await c.scheduler.run(interval=SCHEDULER_INTERVAL, after_tick=c.live.wake, state=state)

    c.supervisor.start(
        "live-views",
        c.live.run,
        stale_after=max(10.0, 10 * c.live.poll_interval),
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    c.supervisor.start(
        "scheduler",
        scheduler,
        stale_after=10 * SCHEDULER_INTERVAL,
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    c.supervisor.start("notification-sweep", c.dispatcher.sweep_forever, stale_after=30.0)
    if c.arc is not None:
        c.supervisor.start("arc-supervision", c.arc.supervise, stale_after=30.0)
    if c.merkle is not None:
        from service.workers.merkle_log import MerkleLogWorker

        worker = MerkleLogWorker(
            c.merkle, c.clock, c.signing_key, sign_every=c.settings.signing_interval
        )
        c.supervisor.start("merkle-log", worker.run, stale_after=60.0)


async def running(c: Container, *, with_mqtt: bool = True) -> AsyncIterator[None]:
    """Start: catch the views up, resume unsent notifications, follow, then take device traffic.

    The worker threads that call the (synchronous) store are owned here: a thread
    cannot be cancelled, so shutdown waits for them before the store is closed.
    """
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, GIL_SWITCH_INTERVAL))
    workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lw-worker")
    asyncio.get_running_loop().set_default_executor(workers)
    await asyncio.to_thread(c.projector.catch_up)
    _supervise_loops(c)
    await c.dispatcher.start()
    if c.arc is not None:
        await c.arc.start()
    if with_mqtt:
        await _start_mqtt(c)
    try:
        yield
    finally:
        await c.sessions.stop()
        if c.phones_link is not None:
            await asyncio.to_thread(c.phones_link.stop)
        await c.supervisor.stop()
        for task in c.tasks:
            task.cancel()
        for task in c.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        c.tasks.clear()
        # Again: the main session may have been started (after the alarm session
        # subscribed) between the first stop and the cancel. stop() is idempotent.
        await c.sessions.stop()
        await c.dispatcher.stop()
        if c.arc is not None:
            await c.arc.stop()
        await c.notifier.aclose()
        if c.broker is not None:
            await c.broker.stop()
        workers.shutdown(wait=True, cancel_futures=True)
        sys.setswitchinterval(switch_interval)


def create_app(c: Container, *, with_mqtt: bool = True) -> web.Application:
    """The HTTP app over the container's parts, running the background while it runs."""

    async def background(_: web.Application) -> AsyncIterator[None]:
        async for __ in running(c, with_mqtt=with_mqtt):
            yield

    return http_app.create_app(
        settings=c.settings,
        clock=c.clock,
        lonewatch=c.app,
        views=c.views,
        projector=c.projector,
        live=c.live,
        hub=c.hub,
        pools=c.pools,
        health=c.health,
        notifier=c.notifier,
        device_inbox=DeviceInbox(
            record=c.gateway.intake.record,
            stats=c.gateway.stats,
            submit=c.dispatcher.submit_requested,
            wake=c.live.wake,
        ),
        merkle=c.merkle,
        signing_key=c.signing_key,
        background=background,
    )
