"""GET /metrics (INTERFACES.md section 10): an SOS pressed on a real device, through
Mosquitto, the gateway and PostgreSQL, moves the counters an operator watches; the scrape
is parsed with prometheus_client's own parser, as Prometheus would read it."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.adapters.notifiers.console_notifier import ConsoleNotifier
from service.bootstrap import Container, create_app
from service.config import Settings
from service.entrypoints.http.metrics import is_loopback
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, REQUIRE_SERVICES, free_port
from tests.harness import Device, eventually, forget_session, service_in_process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
World = tuple[TestClient[Any, Any], Container, Device, ConsoleNotifier]


@pytest.fixture
async def world(
    mosquitto_url: str, postgres_url: str, topic_prefix: str, run_id: str, aiohttp_client: Any
) -> AsyncIterator[World]:
    client_id = f"lw-gw-{run_id}"
    settings = Settings(
        database_url=postgres_url,
        mqtt_url=mosquitto_url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
    )
    notifier = ConsoleNotifier()
    async with service_in_process(settings, notifier=notifier) as c:
        app = create_app(c)
        app.cleanup_ctx.clear()  # service_in_process runs the background already
        device = await Device.connect(
            MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, "sos-0001", f"dev-{run_id}"
        )
        try:
            yield await aiohttp_client(app), c, device, notifier
        finally:
            device.close()
    forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)


async def scrape(client: TestClient[Any, Any]) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_an_sos_pressed_moves_the_counters_the_latency_and_the_open_alerts(
    world: World,
) -> None:
    client, c, device, notifier = world
    before = await scrape(client)

    await device.send("sos", {"id": "press-1"})
    await device.send("sos", {"id": "press-1"})  # the device repeats it: a duplicate
    await device.send("heartbeat", b"not json")  # refused, with its reason
    await eventually(
        lambda: len(notifier.sent) == 2 and len(notifier.calls) == 2,
        what="tier 1 texted and called (a red alert)",
    )
    await eventually(
        lambda: c.gateway.stats["duplicates"] == 1 and c.gateway.stats["rejected:bad_json"] == 1,
        what="the duplicate and the refusal settled",
    )
    await eventually(
        lambda: c.dispatcher.sent == 4 and c.projector.position() == c.projector.head(),
        what="the four sends recorded and the views caught up",
    )
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("lonewatch_messages_recorded_by_kind_total", kind="sos") == 1
    assert moved("lonewatch_messages_duplicate_total") == 1
    assert moved("lonewatch_messages_rejected_total", reason="bad_json") == 1
    assert moved("lonewatch_messages_received_total") == 3
    assert moved("lonewatch_gateway_commit_batch_size_count", lane="alarm") >= 1
    for channel in ("sms", "voice"):
        assert moved("lonewatch_notification_outcomes_total", channel=channel, outcome="sent") == 2
    # One alert, one observation (its first request), between the press and now.
    assert moved("lonewatch_alarm_press_to_first_request_seconds_count") == 1
    latency = moved("lonewatch_alarm_press_to_first_request_seconds_sum")
    assert 0 < latency < 5, latency
    assert value(after, "lonewatch_alerts_open", kind="sos", severity="red", state="notified") == 1
    assert value(after, "lonewatch_notifications", state="sent") == 4
    assert moved("lonewatch_alerts", state="notified") == 1
    assert value(after, "lonewatch_up") == 1
    assert value(after, "lonewatch_store_up") == 1
    assert value(after, "lonewatch_projection_lag_events") >= 0
    assert value(after, "lonewatch_gateway_backlog", lane="alarm") == 0
    # Backpressure is exposed, and idle: nothing here outran the store.
    for name in ("lonewatch_gateway_reading_paused", "lonewatch_gateway_reading_waits_total"):
        assert (name, frozenset()) in after and value(after, name) == 0, name
    for session in ("devices", "alarms"):
        assert value(after, "lonewatch_broker_session_connected", session=session) == 1
    for loop in ("scheduler", "live-views", "notification-sweep", "gateway"):
        assert value(after, "lonewatch_loop_up", loop=loop) == 1, loop
        assert ("lonewatch_loop_restarts_total", frozenset({("loop", loop)})) in after


def outward_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if is_loopback(address) else address


async def test_from_another_machine_metrics_need_a_bearer_token(tmp_path: Path) -> None:
    """docs/operations.md, "Metrics": the machine itself may scrape; anyone else shows a
    token, as for the API."""
    address = outward_address()
    if address is None:
        message = "this machine has no address but loopback"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ev.sqlite3'}")
    async with service_in_process(settings, with_mqtt=False) as c:
        token = c.app.issue_token("reception1", label="prometheus")
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, address, port).start()
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://{address}:{port}/metrics"
                async with http.get(url) as refused:
                    assert refused.status == 401
                    assert "Bearer" in json.loads(await refused.text())["detail"]
                wrong = {"Authorization": "Bearer made-up"}
                async with http.get(url, headers=wrong) as refused_again:
                    assert refused_again.status == 401
                good = {"Authorization": f"Bearer {token}"}
                async with http.get(url, headers=good) as served:
                    assert served.status == 200
                    assert "lonewatch_up" in await served.text()
        finally:
            await runner.cleanup()


async def test_with_metrics_off_there_is_no_endpoint(tmp_path: Path, aiohttp_client: Any) -> None:
    """`LW_METRICS=off` (INTERFACES.md section 11)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ev.sqlite3'}", metrics=False)
    async with service_in_process(settings, with_mqtt=False) as c:
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        client = await aiohttp_client(app)
        assert (await client.get("/metrics")).status == 404


DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed_names(text: str) -> set[str]:
    """Every series name a scrape can hold: each family's, with its type's suffixes (a
    labelled family with no sample yet is still declared by its TYPE line)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            base = name.removesuffix("_total") if kind == "counter" else name
            names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


async def test_the_grafana_dashboard_asks_only_for_metrics_the_endpoint_exposes(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ev.sqlite3'}")
    async with service_in_process(settings, with_mqtt=False) as c:
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        client = await aiohttp_client(app)
        exposed = exposed_names(await (await client.get("/metrics")).text())
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\blonewatch_[a-z0-9_]+", target["expr"])
    }
    asked |= set(re.findall(r"\blonewatch_[a-z0-9_]+", json.dumps(dashboard["templating"])))
    assert asked, "the dashboard asks for no lonewatch metric"
    assert asked <= exposed, f"not exposed by /metrics: {sorted(asked - exposed)}"
    # What the brief of the on-call dashboard names, each on a panel.
    for needed in (
        "lonewatch_gateway_backlog",
        "lonewatch_alarm_press_to_first_request_seconds_bucket",
        "lonewatch_notification_outcomes_total",
        "lonewatch_loop_up",
        "lonewatch_projection_lag_events",
    ):
        assert needed in asked, needed
