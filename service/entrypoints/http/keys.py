"""What the HTTP app holds: one typed key per dependency, set by the app factory
(`service/entrypoints/http/app.py`). A handler reads only the keys it needs.

The use cases (`service.application.*`: alerts, visits, sessions, texts, escalation)
are functions over the application's unit of work, so their one dependency is
`LONEWATCH`; the records (`service.records.*`) read it and `VIEWS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from device_gateway.messages import DeviceReading
from projections.projector import Projector
from projections.store import ViewStore
from service.adapters.merkle_log import MerkleLog
from service.adapters.signing import SigningKey
from service.application.device_intake import Intaken
from service.application.lonewatch import Lonewatch
from service.clock import Clock
from service.config import Settings
from service.domain.alerts.notifications import Notification
from service.workers.health import Health
from service.workers.live import Hub, LiveViews
from service.workers.pools import WorkPools

LONEWATCH: web.AppKey[Lonewatch] = web.AppKey("lonewatch", Lonewatch)
"""The unit of work every use case runs over (and loads from, for authorisation)."""
VIEWS: web.AppKey[ViewStore] = web.AppKey("views", ViewStore)
PROJECTOR: web.AppKey[Projector] = web.AppKey("projector", Projector)
"""Caught up after a command, so the answer shows what the command did."""
LIVE: web.AppKey[LiveViews] = web.AppKey("live_views", LiveViews)
"""Woken after a command, so the feed and the dispatcher see it at once."""
HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
"""The live stream's subscribers."""
POOLS: web.AppKey[WorkPools] = web.AppKey("work_pools", WorkPools)
"""Bounded pools for what anyone can make us do (token and session look-ups, password
checks, exports): never the default executor the alarm path's store calls use."""
HEALTH: web.AppKey[Health] = web.AppKey("health", Health)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock", Clock)
PROVIDER: web.AppKey[str] = web.AppKey("provider", str)
"""Who "accepts" a message, in the feed's words ("Twilio", "the test notifier")."""


@dataclass(frozen=True)
class DeviceInbox:
    """Where an integration that speaks HTTP (Traccar's forwarding) hands device readings:
    the gateway's own intake, as MQTT's, so validation, dedupe and alarms are one rule."""

    record: Callable[[Sequence[DeviceReading]], list[Intaken]]
    stats: Counter[str]
    """The gateway's counters (rejections by reason): health reads them."""
    submit: Callable[[Sequence[Notification]], None]
    """The dispatcher: the notifications a reading asked for, sent at once."""
    wake: Callable[[], None]
    """The live views: the feed shows the reading without waiting for a poll."""


DEVICE_INBOX: web.AppKey[DeviceInbox] = web.AppKey("device_inbox", DeviceInbox)


@dataclass(frozen=True)
class RecordProof:
    """What an export proves itself with: the Merkle log and the key that signs its heads
    (either may be absent: a record is then exported without proofs, or an unsigned head)."""

    merkle: MerkleLog | None
    key: SigningKey | None


PROOF: web.AppKey[RecordProof] = web.AppKey("record_proof", RecordProof)
