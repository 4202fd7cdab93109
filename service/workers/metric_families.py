"""The metric families `/metrics` builds at scrape time from one snapshot: the health
check's body (gateway, store, loops, broker, notifications, timers) and the views' counts.

Kept apart from `metrics`, which holds what is observed as it happens (the instruments) and
takes the snapshot: these only turn what was read into Prometheus families, so a new figure
in health is one function here. docs/operations.md lists the names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.store import ViewStore
from service.domain.alerts.alert import OPEN_ALERT_STATES


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


class ServiceCollector(Collector):
    """Metric families built from the last scrape's snapshot (read just before rendering)."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        return []  # built per scrape: no fixed description to check names against

    def collect(self) -> Iterable[Metric]:
        snap = self._snapshot()
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
