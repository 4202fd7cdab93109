"""What `GET /metrics` exports (INTERFACES.md section 10), in Prometheus's text format.

Most of it is read at scrape time from what the service already keeps: the health check
(gateway counters and lanes, loops, store, projections, broker sessions, dispatcher) and
the views (alerts and notifications by state). Only what cannot be read afterwards is
observed as it happens: the gateway's commit sizes and times, the dispatcher's outcomes
by channel, and an alarm's press-to-first-request latency; each an observation of a few
microseconds, after the work it measures or beside it, never a wait on the alarm path.

Every metric lives in the app's own registry, never prometheus_client's global one, so
tests and several apps in one process do not collide. docs/operations.md lists them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.store import ViewStore
from service.domain.alerts.alert import OPEN_ALERT_STATES
from service.workers.health import Health

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


@dataclass
class Snapshot:
    """What one scrape read: the health check's verdict and body, and the views' counts."""

    ok: bool = True
    body: dict[str, Any] = field(default_factory=dict)
    alerts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Open alerts by (kind, severity, state)."""
    alert_states: Counter[str] = field(default_factory=Counter)
    """Every alert in the views by state (resolved ones too)."""
    notifications: Counter[str] = field(default_factory=Counter)
    """Notifications in the views by state."""
    views_ok: bool = False


def read_views(views: ViewStore, snapshot: Snapshot) -> None:
    """On the metrics' own thread: open alerts (few) one by one, the rest counted by state."""
    alerts: Counter[tuple[str, str, str]] = Counter()
    for doc in views.find("alert", states=list(OPEN_ALERT_STATES), limit=100_000):
        alerts[(str(doc.get("kind")), str(doc.get("severity")), str(doc.get("state")))] += 1
    snapshot.alerts = alerts
    snapshot.alert_states = Counter(views.counts("alert"))
    snapshot.notifications = Counter(views.counts("notification"))


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
        self.registry.register(ServiceCollector(self))
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


class ServiceCollector(Collector):
    """Metric families built from the last scrape's snapshot (read just before rendering)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # built per scrape: no fixed description to check names against

    def collect(self) -> Iterable[Metric]:
        snap = self.metrics.snapshot
        checks: dict[str, Any] = snap.body.get("checks", {})
        yield _gauge("lonewatch_up", "1 when /api/v1/health says ok, else 0.", 1 if snap.ok else 0)
        yield from _gateway(checks.get("gateway", {}))
        yield from _store(checks.get("event_store", {}), checks.get("projections", {}))
        yield from _loops(checks.get("loops", {}))
        yield from _broker(checks.get("broker"))
        yield from _notifications(checks.get("notifications", {}), snap)
        yield from _timers(checks.get("timers", {}))
        if snap.views_ok:
            alerts = GaugeMetricFamily(
                "lonewatch_alerts_open",
                "Open alerts (not resolved) by kind, severity and state.",
                labels=["kind", "severity", "state"],
            )
            for (kind, severity, state), count in sorted(snap.alerts.items()):
                alerts.add_metric([kind, severity, state], count)
            yield alerts
            yield _labelled(
                GaugeMetricFamily,
                "lonewatch_alerts",
                "Alerts in the views by state (raised, notified, acknowledged, resolved).",
                "state",
                {state: float(n) for state, n in snap.alert_states.items()},
            )


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _labelled(
    family: Callable[..., GaugeMetricFamily | CounterMetricFamily],
    name: str,
    doc: str,
    label: str,
    values: Mapping[str, float],
) -> GaugeMetricFamily | CounterMetricFamily:
    metric = family(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        metric.add_metric([key], value)
    return metric


def _gateway(stats: dict[str, Any]) -> Iterable[Metric]:
    def count(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    yield _counter(
        "lonewatch_messages_recorded",
        "Device messages recorded (committed) by the gateway.",
        count("recorded"),
    )
    yield _counter(
        "lonewatch_messages_duplicate",
        "Device messages found recorded already (same device and id).",
        count("duplicates"),
    )
    kinds = {k.split(":", 1)[1]: int(v) for k, v in stats.items() if k.startswith("kind:")}
    yield _labelled(
        CounterMetricFamily,
        "lonewatch_messages_recorded_by_kind",
        "Device messages recorded, by kind.",
        "kind",
        kinds,
    )
    reasons = {k.split(":", 1)[1]: int(v) for k, v in stats.items() if k.startswith("rejected:")}
    yield _labelled(
        CounterMetricFamily,
        "lonewatch_messages_rejected",
        "Device messages refused and acknowledged, by reason (docs/devices.md).",
        "reason",
        reasons,
    )
    received = count("recorded") + count("duplicates") + sum(reasons.values())
    yield _counter(
        "lonewatch_messages_received",
        "Device messages settled by the gateway: recorded, duplicate or rejected.",
        received,
    )
    yield _counter("lonewatch_gateway_batches", "Group commits made.", count("batches"))
    yield _counter(
        "lonewatch_gateway_batches_failed",
        "Group commits that failed for a reason other than the store (split and retried).",
        count("batches_failed"),
    )
    yield _counter(
        "lonewatch_gateway_store_retries",
        "Commit attempts that found the store unavailable.",
        count("store_retries"),
    )
    yield _gauge(
        "lonewatch_gateway_held",
        "Messages held unacknowledged while the store is unavailable.",
        count("held"),
    )
    yield _counter(
        "lonewatch_gateway_unrecorded",
        "Messages that could be neither recorded nor rejected (anything but 0 is a bug).",
        count("rejections_unrecorded"),
    )
    yield _gauge(
        "lonewatch_gateway_reading_paused",
        "1 while the main session's reading waits for the bulk lane (backpressure), else 0.",
        1 if stats.get("reading_paused") else 0,
    )
    yield _counter(
        "lonewatch_gateway_reading_waits",
        "Times the main session's reading waited for the bulk lane (a flood left at the broker).",
        count("reading_waits"),
    )
    yield _labelled(
        GaugeMetricFamily,
        "lonewatch_gateway_backlog",
        "Messages waiting in each gateway lane (alarm, text, bulk).",
        "lane",
        {lane: float(n) for lane, n in (stats.get("backlog") or {}).items()},
    )


def _store(store: dict[str, Any], projections: dict[str, Any]) -> Iterable[Metric]:
    yield _gauge(
        "lonewatch_store_up",
        "1 when the event store answered the last probe, else 0.",
        1 if store.get("reachable") else 0,
    )
    if store.get("latency_s") is not None:
        yield _gauge(
            "lonewatch_store_probe_seconds",
            "How long the last store probe took.",
            store["latency_s"],
        )
    if store.get("head") is not None:
        yield _gauge("lonewatch_store_head", "Position of the newest stored event.", store["head"])
    if projections.get("lag") is not None:
        yield _gauge(
            "lonewatch_projection_position",
            "Position the views have processed.",
            projections["position"],
        )
        yield _gauge(
            "lonewatch_projection_lag_events",
            "Events stored and not yet in the views (head minus position).",
            projections["lag"],
        )


def _loops(loops: dict[str, dict[str, Any]]) -> Iterable[Metric]:
    up = GaugeMetricFamily(
        "lonewatch_loop_up",
        "1 when a supervised loop is running and well (health's view), else 0.",
        labels=["loop"],
    )
    restarts = CounterMetricFamily(
        "lonewatch_loop_restarts", "Times the supervisor restarted a loop.", labels=["loop"]
    )
    age = GaugeMetricFamily(
        "lonewatch_loop_last_tick_age_seconds",
        "Seconds since a loop's last good round (or its start).",
        labels=["loop"],
    )
    for name, report in sorted(loops.items()):
        up.add_metric([name], 1 if report.get("ok") and report.get("running") else 0)
        restarts.add_metric([name], int(report.get("restarts", 0)))
        if report.get("last_tick_age_s") is not None:
            age.add_metric([name], report["last_tick_age_s"])
    yield from (up, restarts, age)


def _broker(broker: dict[str, Any] | None) -> Iterable[Metric]:
    sessions = GaugeMetricFamily(
        "lonewatch_broker_session_connected",
        "1 when the gateway's broker session (devices, alarms) is connected, else 0.",
        labels=["session"],
    )
    for name, state in sorted(((broker or {}).get("sessions") or {}).items()):
        sessions.add_metric([name], 1 if state.get("connected") else 0)
    yield sessions


def _notifications(doc: dict[str, Any], snap: Snapshot) -> Iterable[Metric]:
    yield _gauge(
        "lonewatch_notifications_sending",
        "Notifications this process is sending now (tries and waits between them).",
        doc.get("sending", 0),
    )
    yield _gauge(
        "lonewatch_notifications_stuck",
        "Notifications requested over a minute ago and not sent, or in flight unanswered.",
        int(doc.get("stuck", 0)) + int(doc.get("stuck_in_flight", 0)),
    )
    if snap.views_ok:
        yield _labelled(
            GaugeMetricFamily,
            "lonewatch_notifications",
            "Notifications in the views, by state (requested, sent, failed, ...).",
            "state",
            {state: float(n) for state, n in snap.notifications.items()},
        )


def _timers(doc: dict[str, Any]) -> Iterable[Metric]:
    yield _counter("lonewatch_timers_fired", "Timers fired by this process.", doc.get("fired", 0))
    yield _gauge(
        "lonewatch_timers_failing",
        "Due timers whose action keeps failing.",
        len(doc.get("failing") or {}),
    )
