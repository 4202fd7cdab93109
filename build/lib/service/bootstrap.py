"""The one place where the object graph is assembled (cosmicpython's bootstrap).

`build` makes the real parts from settings; tests pass their own clock or
notifier. `running` is the aiohttp cleanup context that starts and stops every
background task in one place.
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
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from device_gateway.gateway import Gateway
from device_gateway.messages import (
    alarm_subscriptions,
    alerts_topic,
    cmd_topic,
    device_subscription,
)
from projections.projector import Change, Projector
from projections.store import ViewStore, dumps, open_view_store
from service.adapters.alarm_priority import AlarmPriority
from service.adapters.event_store import (
    eventsourcing_env,
    quick_recovery,
    views_location,
    with_startup_retries,
)
from service.adapters.notifiers.base import Notifier
from service.adapters.sealing import SealedEventStore
from service.application import escalation
from service.application.lonewatch import Lonewatch
from service.application.visit_deadlines import with_timer_actions as visit_timers
from service.clock import Clock, SystemClock
from service.config import Settings
from service.logs import get_logger
from service.workers.dispatcher import DEFAULT_BACKOFF, Dispatcher
from service.workers.health import Health, StoreProbe, store_reader
from service.workers.live import Hub, LiveViews, public_change
from service.workers.pools import WorkPools
from service.workers.scheduler import Scheduler
from service.workers.supervisor import LoopState, Supervisor

if TYPE_CHECKING:
    from device_gateway.embedded_broker import EmbeddedBroker
    from device_gateway.mqtt_link import MqttLink

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
    link: MqttLink | None = None
    alarm_link: MqttLink | None = None
    """The gateway's second broker session: sos and fall only (docs/gateway.md)."""
    broker: EmbeddedBroker | None = None
    supervisor: Supervisor = field(default_factory=Supervisor)
    health: Health | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Unsupervised one-shot tasks, cancelled at shutdown; loops go to `supervisor.start`."""
    # Password checks, made-up credentials and exports: never on the default executor.
    pools: WorkPools = field(default_factory=WorkPools)

    def close(self) -> None:
        if self.health is not None:
            self.health.probe.close()
        self.pools.close()  # their jobs use the store: done before it closes
        self.views.close()
        self.app.close()


CONTAINER: web.AppKey[Container] = web.AppKey("container", Container)


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
) -> Container:
    """`backoff` is the dispatcher's wait between tries (tests make it short)."""
    clock = clock or SystemClock()
    env = eventsourcing_env(settings.database_url, settings.cipher_key)
    app = with_startup_retries(lambda: Lonewatch(env, clock))
    quick_recovery(app.recorder)
    views = with_startup_retries(lambda: open_view_store(views_location(settings.database_url)))
    projector = Projector(app.recorder, app.mapper, views)
    live = LiveViews(projector, poll_interval=settings.poll_interval)
    app.add_listener(live.wake)
    notifier = notifier or make_notifier(settings)
    app.alert_finder = escalation.find_by_schools(views)
    priority = AlarmPriority()  # alarms first at the store's lock: gateway and dispatcher
    if isinstance(app.events, SealedEventStore):
        app.events.before_insert = priority.at_lock
    c = Container(
        settings=settings,
        clock=clock,
        app=app,
        views=views,
        projector=projector,
        live=live,
        hub=Hub(),
        notifier=notifier,
        dispatcher=Dispatcher(app, views, notifier, backoff=backoff, priority=priority),
        gateway=Gateway(app, prefix=settings.mqtt_topic_prefix, priority=priority),
        scheduler=visit_timers(Scheduler(views, clock, escalation.timer_actions(app)), app),
    )
    c.health = Health(StoreProbe(store_reader(c)))
    return c


def _fan_out_to_mqtt(c: Container) -> Any:
    """Every alert change goes to lw/v1/alerts/{school}; an acknowledgement also to the device."""

    def listener(changes: list[Change]) -> None:
        if c.link is None:
            return
        prefix = c.settings.mqtt_topic_prefix
        for change in changes:
            if change.kind != "alert":
                continue
            doc = change.doc
            c.link.publish(
                alerts_topic(prefix, doc["school"]), dumps(public_change(change)).encode()
            )
            # A silent (duress) alert says nothing back to the device in anyone's hands.
            if change.event == "Alert.Acknowledged" and doc.get("device") and not doc.get("silent"):
                payload = {
                    "type": "acknowledged",
                    "alert_id": doc["id"],
                    "by": doc["acknowledged_by"],
                }
                c.link.publish(cmd_topic(prefix, doc["device"]), json.dumps(payload).encode())

    return listener


def _tick_when_due(c: Container) -> Any:
    """A timer written already due (an alert's first escalation step) fires at once,
    not at the scheduler's next round: the (supervised) scheduler loop is woken. So is
    one due before that round: the woken round reads it and waits for exactly its time."""

    def listener(changes: list[Change]) -> None:
        soon = c.clock.now() + timedelta(seconds=SCHEDULER_INTERVAL)
        if any(
            ch.kind == "timer"
            and ch.doc.get("state") == "pending"
            and datetime.fromisoformat(ch.doc["due_at"]) <= soon
            for ch in changes
        ):
            c.scheduler.wake()

    return listener


def _directory_watch(c: Container) -> Any:
    def listener(changes: list[Change]) -> None:
        if any(change.kind == "directory-changed" for change in changes):
            c.app.forget_directory_cache()

    return listener


ALARM_SESSION_FIRST_WAIT = 10.0
"""How long the main session waits at start-up for the alarm session to subscribe."""


async def _start_mqtt(c: Container) -> None:
    """Two sessions: alarms (sos, fall) have a queue and in-flight window of their own at
    the broker, so an SOS never waits behind a heartbeat backlog.

    The alarm session subscribes first: from its SUBACK on, every alarm is queued for it,
    whatever the main session does. The main session then acknowledges alarm kinds
    without recording them, but only while the gateway knows the alarm session has
    them too (`Gateway._alarm_session_covers`); else it records them itself.
    """
    from device_gateway.mqtt_link import MqttLink

    endpoint = c.settings.mqtt
    if endpoint.embedded:
        from device_gateway.embedded_broker import EmbeddedBroker

        c.broker = EmbeddedBroker(host=endpoint.host, port=endpoint.port)
        await c.broker.start()
        log.info("embedded_broker_started", port=endpoint.port)
    prefix, group = c.settings.mqtt_topic_prefix, c.settings.mqtt_share_group
    protocol: Literal["v5", "v311"] = "v311" if endpoint.embedded else "v5"
    c.alarm_link = MqttLink(
        endpoint,
        client_id=f"{c.settings.mqtt_client_id}-alarm",
        subscriptions=alarm_subscriptions(prefix, group),
        on_message=c.gateway.receive_alarm_threadsafe,
        protocol=protocol,
    )
    c.link = MqttLink(
        endpoint,
        client_id=c.settings.mqtt_client_id,
        subscriptions=[device_subscription(prefix, group)],
        on_message=c.gateway.receive_threadsafe,
        protocol=protocol,
    )
    c.gateway.bind(c.link, alarm=c.alarm_link)
    c.gateway.on_notifications = c.dispatcher.submit_requested
    c.supervisor.start("gateway", lambda _: c.gateway.run())
    await asyncio.sleep(0)  # let the gateway take its queues before paho can deliver
    c.alarm_link.start()
    # Not awaited here: start-up (and the health endpoint) must not wait for a broker.
    c.tasks.append(
        asyncio.create_task(_start_main_session(c.alarm_link, c.link), name="mqtt-main-start")
    )


async def _start_main_session(alarm: MqttLink, main: MqttLink) -> None:
    """Start the main session once the alarm session has subscribed (or has not after
    ALARM_SESSION_FIRST_WAIT: then the main session records alarms itself until the
    gateway knows the alarm session has them). Polls, so shutdown can cancel it (and
    `running` stops the links again after cancelling, in case it had just started one)."""
    deadline = asyncio.get_running_loop().time() + ALARM_SESSION_FIRST_WAIT
    while not alarm.connected:
        if asyncio.get_running_loop().time() > deadline:
            log.warning("alarm_session_not_ready", waited=ALARM_SESSION_FIRST_WAIT)
            break
        await asyncio.sleep(0.02)
    main.start()


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
    c.live.add_listener(c.hub.publish)
    c.live.add_listener(c.dispatcher.on_changes)
    c.live.add_listener(_directory_watch(c))
    c.live.add_listener(_fan_out_to_mqtt(c))
    c.live.add_listener(_tick_when_due(c))
    _supervise_loops(c)
    await c.dispatcher.start()
    if with_mqtt:
        await _start_mqtt(c)
    try:
        yield
    finally:
        for link in (c.link, c.alarm_link):
            if link is not None:
                await asyncio.to_thread(link.stop)
        await c.supervisor.stop()
        for task in c.tasks:
            task.cancel()
        for task in c.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        c.tasks.clear()
        for link in (c.link, c.alarm_link):
            # Again: the main session may have been started (after the alarm session
            # subscribed) between the first stop and the cancel. stop() is idempotent.
            if link is not None:
                await asyncio.to_thread(link.stop)
        await c.dispatcher.stop()
        await c.notifier.aclose()
        if c.broker is not None:
            await c.broker.stop()
        workers.shutdown(wait=True, cancel_futures=True)
        sys.setswitchinterval(switch_interval)


def create_app(c: Container, *, with_mqtt: bool = True) -> web.Application:
    from service.entrypoints.http.api import MIDDLEWARES, add_routes
    from service.entrypoints.http.console import add_console_routes
    from service.entrypoints.http.visits import add_visit_routes

    app = web.Application(middlewares=MIDDLEWARES)
    app[CONTAINER] = c

    async def background(_: web.Application) -> AsyncIterator[None]:
        async for __ in running(c, with_mqtt=with_mqtt):
            yield

    async def close_streams(_: web.Application) -> None:
        c.hub.close_all()

    app.cleanup_ctx.append(background)
    app.on_shutdown.append(close_streams)
    add_routes(app)
    add_visit_routes(app)
    add_console_routes(app)
    return app
