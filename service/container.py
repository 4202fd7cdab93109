"""The service's parts as assembled by `service.bootstrap.build`: what the entry points,
the lifecycle and the tests hold on to. Its own module so the lifecycle (which starts and
stops the parts) and the composition root (which makes them) need not import each other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from device_gateway.gateway import Gateway
from device_gateway.mqtt_link import MqttLink
from device_gateway.nats_link import NatsLink
from device_gateway.nats_sessions import NatsSessions
from device_gateway.sessions import BrokerSessions
from projections.projector import Projector
from projections.store import ViewStore
from service.adapters.merkle_log import MerkleLog
from service.adapters.notifiers.base import Notifier
from service.adapters.sign_in_failures import SignInFailures
from service.adapters.signing import SigningKey
from service.adapters.store_notices import StoreNotices
from service.application.lonewatch import Lonewatch
from service.clock import Clock
from service.config import Settings
from service.workers.arc_sender import ArcSender
from service.workers.dispatcher import Dispatcher
from service.workers.health import Health
from service.workers.leadership import HeldLease
from service.workers.live import Hub, LiveViews
from service.workers.metrics import Metrics
from service.workers.pools import WorkPools
from service.workers.scheduler import Scheduler
from service.workers.supervisor import Supervisor

if TYPE_CHECKING:
    from device_gateway.embedded_broker import EmbeddedBroker


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
    sessions: BrokerSessions | NatsSessions
    """The gateway's broker sessions (or NATS consumers): none until MQTT is started (`running`)."""
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
    metrics: Metrics | None = None
    """GET /metrics (service/workers/metrics.py); None when `LW_METRICS=off`."""
    leases: tuple[HeldLease, ...] = ()
    """The outbox and timers leases (service/workers/leadership.py): which of the processes
    sharing the store sends and fires; renewed by their own loops."""
    notices: StoreNotices | None = None
    """PostgreSQL's word that another process committed (LISTEN): wakes the live views."""
    sign_in_failures: SignInFailures | None = None
    """Wrong passwords counted in the store, so every process refuses the same guesses."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Unsupervised one-shot tasks, cancelled at shutdown; loops go to `supervisor.start`."""

    @property
    def link(self) -> MqttLink | NatsLink | None:
        """The main broker session: every device message."""
        return self.sessions.main

    @property
    def alarm_link(self) -> MqttLink | NatsLink | None:
        """The gateway's second broker session: sos and fall only (docs/gateway.md)."""
        return self.sessions.alarm

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        self.health.close()
        self.pools.close()  # their jobs use the store: done before it closes
        self.views.close()
        if self.leases:
            self.leases[0].leases.close()
        if self.sign_in_failures is not None:
            self.sign_in_failures.close()
        if self.notices is not None:
            self.notices.close()
        self.app.close()
