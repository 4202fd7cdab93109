"""The one place where the object graph is assembled (cosmicpython's bootstrap).

`build` makes the real parts from settings, each given what it needs at construction
(nothing is completed afterwards); tests pass their own clock or notifier. The parts are a
`Container` (service/container.py); `service.lifecycle.running` starts and stops them;
`create_app` hands them to the HTTP app factory (service/entrypoints/http/app.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from device_gateway.gateway import Gateway
from device_gateway.links import Sessions
from device_gateway.messages import alerts_topic, cmd_topic
from device_gateway.nats_sessions import NatsSessions
from device_gateway.sessions import BrokerSessions
from projections.doc_text import dumps
from projections.projector import Change, Projector
from projections.store import open_view_store
from service.adapters.alarm_priority import AlarmPriority
from service.adapters.event_store import (
    eventsourcing_env,
    quick_recovery,
    views_location,
    with_startup_retries,
)
from service.adapters.leases import holder_name, open_leases
from service.adapters.merkle_log import MerkleLog
from service.adapters.notifiers.base import Notifier
from service.adapters.saved_states import open_saved_states
from service.adapters.sign_in_failures import open_sign_in_failures
from service.adapters.signing import SigningKey
from service.adapters.store_notices import notices_for
from service.application import acknowledgement, escalation_timers
from service.application.lonewatch import Lonewatch
from service.application.visit_deadlines import with_timer_actions as visit_timers
from service.clock import Clock, SystemClock
from service.config import Settings
from service.container import Container
from service.entrypoints.http import app as http_app
from service.entrypoints.http.keys import DeviceInbox
from service.lifecycle import SCHEDULER_INTERVAL, running
from service.logs import get_logger
from service.records.record_cache import cache_of
from service.records.saved_states import KeptInStore
from service.workers.arc_sender import ArcSender, ArcTiming
from service.workers.dispatcher import Dispatcher
from service.workers.health import Health
from service.workers.leadership import OUTBOX, TIMERS, HeldLease
from service.workers.live import Hub, Listener, LiveViews, public_change
from service.workers.metrics import Instruments, Metrics
from service.workers.notification_tries import DEFAULT_BACKOFF
from service.workers.pools import WorkPools
from service.workers.scheduler import Scheduler
from service.workers.store_probe import StoreProbe, store_reader
from service.workers.supervisor import Supervisor

if TYPE_CHECKING:
    from device_gateway.embedded_broker import EmbeddedBroker

log = get_logger(__name__)


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
    instruments = Instruments() if settings.metrics else None
    # One sender and one timer owner among the processes sharing the store. A new term
    # starts from views caught up with everything its predecessor recorded.
    leases = with_startup_retries(
        lambda: open_leases(settings.database_url, holder_name(settings.http_addr))
    )

    async def outbox_gained() -> None:
        await asyncio.to_thread(projector.catch_up)
        await dispatcher.start()
        await arc.start()

    async def timers_gained() -> None:
        await asyncio.to_thread(projector.catch_up)
        scheduler.forget_fired()
        scheduler.wake()

    outbox_lease = HeldLease(leases, OUTBOX, on_gained=outbox_gained)
    timers_lease = HeldLease(leases, TIMERS, on_gained=timers_gained)
    # Other processes' commits wake the views at once, and an alarm's notifications
    # recorded by a process that does not send are handed straight to the one that does.
    notices = notices_for(
        settings.database_url,
        app.recorder,
        lambda: live.wake(),
        lambda docs: dispatcher.submit_urgent(docs),
    )
    dispatcher = Dispatcher(
        app,
        views,
        notifier,
        backoff=backoff,
        priority=priority,
        on_first_request=instruments.press_latency.requested if instruments else None,
        on_outcome=instruments.outcome if instruments else None,
        lease=outbox_lease,
        hand_over=notices.hand_over if notices is not None else None,
    )
    # The links deliver to the gateway and the gateway acks on them: the gateway is given
    # the sessions (links made when MQTT starts), the links its callbacks (`_start_mqtt`).
    sessions = _broker_sessions(settings)
    gateway = Gateway(
        app,
        sessions=sessions,
        on_notifications=dispatcher.submit_requested,
        prefix=settings.mqtt_topic_prefix,
        priority=priority,
        on_pressed=instruments.press_latency.pressed if instruments else None,
        on_commit=instruments.commit_observed if instruments else None,
    )
    scheduler = visit_timers(
        Scheduler(views, clock, escalation_timers.timer_actions(app), lease=timers_lease), app
    )
    hub = Hub()
    arc_timing = arc_timing or ArcTiming()
    arc = ArcSender(
        app,
        views,
        backoff=arc_timing.backoff,
        unreachable_after=arc_timing.unreachable_after,
        answer_within=arc_timing.answer_within,
        supervision=arc_timing.supervision,
        lease=outbox_lease,
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
            _while_held(outbox_lease, arc.on_changes),
        ],
    )
    # The application wakes the views after each commit, and the views read the
    # application's recorder (which eventsourcing makes inside the application): the one
    # cycle of objects left, kept as a subscription, an observer the application does not
    # need in order to work.
    app.add_listener(live.wake)
    # What the gateway commits is handed to the views and the Merkle log as it is, so they
    # need not read it back (each reads instead when a handed group does not continue
    # exactly where it stands: another writer, a restart).
    merkle = MerkleLog(app.recorder)
    # A long record's saved states outlive the process (a table of their own, keyed by
    # the service's secret; read and written off the alarm path: service/records/).
    saved = with_startup_retries(
        lambda: open_saved_states(
            settings.database_url, settings.signing_key or settings.cipher_key
        )
    )
    if saved is not None:
        cache_of(app).keeper = KeptInStore(saved)
    gateway.intake.on_committed.append(live.hand_over)
    gateway.intake.on_committed.append(lambda done: merkle.hand_over([n for n, _ in done]))
    supervisor = Supervisor()
    health = Health(
        StoreProbe(store_reader(projector, views, leases.rows)),
        supervisor=supervisor,
        scheduler=scheduler,
        gateway=gateway,
        broker=sessions,
        dispatcher=dispatcher,
        clock=clock,
        notifier=type(notifier).__name__,
        embedded_broker=settings.mqtt.embedded,
        broker_details=sessions.details if isinstance(sessions, NatsSessions) else None,
        arc=arc,
        leases=(outbox_lease, timers_lease),
        holder=leases.holder,
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
        merkle=merkle,
        signing_key=SigningKey.from_setting(settings.signing_key) if settings.signing_key else None,
        metrics=Metrics(instruments, health, views) if instruments else None,
        leases=(outbox_lease, timers_lease),
        notices=notices,
        sign_in_failures=with_startup_retries(lambda: open_sign_in_failures(settings.database_url)),
    )


def _embedded_broker(settings: Settings) -> EmbeddedBroker | None:
    if not settings.mqtt.embedded:
        return None
    from device_gateway.embedded_broker import EmbeddedBroker  # amqtt: only when asked for

    return EmbeddedBroker(host=settings.mqtt.host, port=settings.mqtt.port)


def _broker_sessions(settings: Settings) -> BrokerSessions | NatsSessions:
    """Mosquitto (or the embedded broker), or NATS JetStream for `nats://` (docs/scale-out.md)."""
    servers = settings.nats_servers
    if servers is not None:
        return NatsSessions(servers, stream=settings.nats_stream, prefix=settings.mqtt_topic_prefix)
    return BrokerSessions(
        settings.mqtt,
        client_id=settings.mqtt_client_id,
        prefix=settings.mqtt_topic_prefix,
        share_group=settings.mqtt_share_group,
    )


def _fan_out_to_mqtt(sessions: Sessions, prefix: str) -> Listener:
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


def _while_held(lease: HeldLease, listener: Listener) -> Listener:
    """A listener that acts only in the process holding `lease` (the ARC is told once)."""

    def held_listener(changes: list[Change]) -> None:
        if lease.held():
            listener(changes)

    return held_listener


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


def create_app(c: Container, *, with_mqtt: bool = True) -> web.Application:
    """The HTTP app over the container's parts, running the background while it runs."""

    async def background(_: web.Application) -> AsyncIterator[None]:
        async with running(c, with_mqtt=with_mqtt):
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
        metrics=c.metrics,
        sign_in_failures=c.sign_in_failures,
        background=background,
    )
