"""What `GET /metrics` exports (INTERFACES.md section 10), in Prometheus's text format.

Most of it is read at scrape time from what the service already keeps: the health check
(gateway counters and lanes, loops, store, projections, broker sessions, dispatcher) and
the views (alerts and notifications by state); `metric_families` turns that snapshot into
families. Only what cannot be read afterwards is observed as it happens, here: the
gateway's commit sizes and times, the dispatcher's outcomes by channel, and an alarm's
press-to-first-request latency; each an observation of a few microseconds, after the work
it measures or beside it, never a wait on the alarm path.

Every metric lives in the app's own registry, never prometheus_client's global one, so
tests and several apps in one process do not collide. docs/operations.md lists them.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

from projections.store import ViewStore
from service.workers.health import Health
from service.workers.metric_families import ServiceCollector, Snapshot, read_views

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
VIEWS_TIMEOUT: Final = 0.5
"""Seconds a scrape waits for the views (as health waits for the store)."""
PRESSES_REMEMBERED: Final = 10_000
"""Alarm notifications waiting for their first request, at most (a bound, not a target)."""

LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
"""Press to first request: the target is seconds (issue 10: within 2 s of a store restart)."""
COMMIT_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
BATCH_BUCKETS: Final = (1, 2, 5, 10, 25, 50, 100, 250, 500)


class PressLatency:
    """From the gateway receiving an alarm to the dispatcher making the first request for
    it (the Twilio call or SMS): the figure an operator promises. The gateway says when a
    commit asked for notifications (`pressed`), the dispatcher when it is about to make a
    first request (`requested`); a notification not asked for by a press is not counted."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self._pressed: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._alerts_seen: OrderedDict[str, None] = OrderedDict()

    def pressed(self, alert_notifications: Sequence[tuple[str, str]], at: float) -> None:
        """`alert_notifications`: (alert id, notification id) pairs just committed; `at`:
        when the gateway received the message (time.monotonic)."""
        for alert_id, notification_id in alert_notifications:
            self._pressed[notification_id] = (at, alert_id)
            if len(self._pressed) > PRESSES_REMEMBERED:
                self._pressed.popitem(last=False)

    def requested(self, notification_id: str) -> None:
        """The first request of one notification: observed once per alert (its first)."""
        found = self._pressed.pop(notification_id, None)
        if found is None:
            return
        at, alert_id = found
        if alert_id in self._alerts_seen:
            return
        self._alerts_seen[alert_id] = None
        if len(self._alerts_seen) > PRESSES_REMEMBERED:
            self._alerts_seen.popitem(last=False)
        self.histogram.observe(time.monotonic() - at)


class Instruments:
    """What is observed as it happens, in the app's own registry: made before the gateway
    and the dispatcher (which are given its observers), read by `Metrics` at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.press_latency = PressLatency(
            Histogram(
                "lonewatch_alarm_press_to_first_request_seconds",
                "From the gateway receiving a device message that raised an alert (an SOS) to the "
                "first notification request for that alert being made to the provider.",
                buckets=LATENCY_BUCKETS,
                registry=self.registry,
            )
        )
        self._commit_seconds = Histogram(
            "lonewatch_gateway_commit_seconds",
            "Time to record one group of device messages, by lane.",
            ["lane"],
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._batch_size = Histogram(
            "lonewatch_gateway_commit_batch_size",
            "Device messages recorded in one group commit, by lane.",
            ["lane"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._outcomes = PromCounter(
            "lonewatch_notification_outcomes",
            "Notification tries by channel and outcome (sent, retried, failed, refused, "
            "unconfirmed).",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def commit_observed(self, lane: str, size: int, seconds: float) -> None:
        """The gateway, after each group commit."""
        self._commit_seconds.labels(lane).observe(seconds)
        self._batch_size.labels(lane).observe(size)

    def outcome(self, channel: str, outcome: str) -> None:
        """The dispatcher, after each try's result is recorded."""
        self._outcomes.labels(channel, outcome).inc()


class Metrics:
    """The registry `/metrics` renders: the instruments, and what is read at scrape time."""

    def __init__(self, instruments: Instruments, health: Health, views: ViewStore) -> None:
        self.instruments = instruments
        self.registry = instruments.registry
        self.health = health
        self.views = views
        self.snapshot = Snapshot()
        self.registry.register(ServiceCollector(lambda: self.snapshot))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lw-metrics")

    async def render(self) -> bytes:
        """Read health and the views, then render every metric (on the loop: no race)."""
        ok, body = await self.health.check()
        snapshot = Snapshot(ok=ok, body=body)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(VIEWS_TIMEOUT):
                await loop.run_in_executor(self._executor, read_views, self.views, snapshot)
            snapshot.views_ok = True
        except Exception:  # the store's trouble is health's reason; the rest still renders
            snapshot.views_ok = False
        self.snapshot = snapshot
        return generate_latest(self.registry)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
