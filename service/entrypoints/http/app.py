"""The HTTP app factory: the API, the console, the Twilio webhooks and health, over the
parts it is given (aiohttp's `create_app` shape; each part under its own `keys.py` key).

The composition root (`service.bootstrap.create_app`) calls it with the assembled parts
and the cleanup context that starts and stops the background work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from projections.projector import Projector
from projections.store import ViewStore
from service.adapters.merkle_log import MerkleLog
from service.adapters.notifiers.base import Notifier
from service.adapters.sign_in_failures import SignInFailures
from service.adapters.signing import SigningKey
from service.application.lonewatch import Lonewatch
from service.clock import Clock
from service.config import Settings
from service.entrypoints.http.alert_work import add_alert_work_routes
from service.entrypoints.http.api import add_alert_routes
from service.entrypoints.http.auth import authenticate
from service.entrypoints.http.bounds import bounds_middleware
from service.entrypoints.http.confidential import LIST_VIEWINGS, ListViewings
from service.entrypoints.http.console import add_console_routes
from service.entrypoints.http.health import add_health_routes
from service.entrypoints.http.history import add_history_routes
from service.entrypoints.http.keys import (
    CLOCK,
    DEVICE_INBOX,
    HEALTH,
    HUB,
    LIVE,
    LONEWATCH,
    METRICS,
    POOLS,
    PROJECTOR,
    PROOF,
    PROVIDER,
    SETTINGS,
    VIEWS,
    DeviceInbox,
    RecordProof,
)
from service.entrypoints.http.metrics import add_metrics_routes
from service.entrypoints.http.openapi import add_openapi_route
from service.entrypoints.http.problems import problems_middleware
from service.entrypoints.http.rate_limits import add_rate_limits, rate_limit_middleware
from service.entrypoints.http.sign_in import SHARED_LIMITS
from service.entrypoints.http.traccar import add_traccar_routes
from service.entrypoints.http.twilio_webhooks import add_webhook_routes
from service.entrypoints.http.users import add_user_routes
from service.entrypoints.http.visit_during import add_visit_record_routes
from service.entrypoints.http.visit_planning import add_planning_routes
from service.entrypoints.http.visits import add_visit_routes
from service.entrypoints.http.voice import add_voice_routes
from service.workers.health import Health
from service.workers.live import Hub, LiveViews
from service.workers.metrics import Metrics
from service.workers.pools import WorkPools

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def provider_name(notifier: Notifier) -> str:
    """Who "accepted" a message, in the feed's words: no texts leave a test notifier."""
    from service.adapters.notifiers.twilio_notifier import TwilioNotifier

    return "Twilio" if isinstance(notifier, TwilioNotifier) else "the test notifier"


def create_app(
    *,
    settings: Settings,
    clock: Clock,
    lonewatch: Lonewatch,
    views: ViewStore,
    projector: Projector,
    live: LiveViews,
    hub: Hub,
    pools: WorkPools,
    health: Health,
    notifier: Notifier,
    device_inbox: DeviceInbox,
    merkle: MerkleLog | None = None,
    signing_key: SigningKey | None = None,
    metrics: Metrics | None = None,
    sign_in_failures: SignInFailures | None = None,
    background: CleanupContext | None = None,
) -> web.Application:
    """`background`, if given, runs for the app's lifetime (aiohttp's `cleanup_ctx`);
    `metrics`, if given, is served at GET /metrics (service/entrypoints/http/metrics.py)."""
    app = web.Application(
        middlewares=[problems_middleware, bounds_middleware, authenticate, rate_limit_middleware]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[LONEWATCH] = lonewatch
    app[VIEWS] = views
    app[PROJECTOR] = projector
    app[LIVE] = live
    app[HUB] = hub
    app[POOLS] = pools
    app[HEALTH] = health
    app[PROVIDER] = provider_name(notifier)
    app[DEVICE_INBOX] = device_inbox
    app[LIST_VIEWINGS] = ListViewings()
    app[PROOF] = RecordProof(merkle, signing_key)
    app[SHARED_LIMITS] = sign_in_failures  # several processes: one count of wrong passwords

    async def close_streams(_: web.Application) -> None:
        hub.close_all()

    if background is not None:
        app.cleanup_ctx.append(background)
    app.on_shutdown.append(close_streams)
    add_health_routes(app)
    add_history_routes(app)  # first: /alerts/{id} and /visits/{id} would take "history"
    if metrics is not None:
        app[METRICS] = metrics
        add_metrics_routes(app)
    add_openapi_route(app)
    add_rate_limits(app)
    add_alert_routes(app)
    add_alert_work_routes(app)
    add_user_routes(app)
    add_webhook_routes(app)
    add_voice_routes(app)
    add_visit_record_routes(app)  # first: /visits/{id}/{action} would take its paths
    add_visit_routes(app)
    add_planning_routes(app)
    add_traccar_routes(app)
    add_console_routes(app)
    return app
