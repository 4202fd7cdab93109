"""Past one machine, on real parts: a three-node NATS cluster (each node its own JetStream
directory) and two `lonewatch serve` processes on one PostgreSQL, under steady device
traffic. A NATS node (the stream's leader) and then a `serve` process are SIGKILLed:
every message a device was told was taken is recorded, and none twice.

Takeover times are printed (run with -s to see them): from each kill until every message
acknowledged to a device before it is in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from device_gateway.nats_sessions import ACK_WAIT_SECONDS, NatsPlan
from service.domain.ids import device_message_id
from simulators.local_stack import free_port
from simulators.nats_cluster import OwnNatsCluster, nats_version
from simulators.nats_devices import SteadyDevices
from tests.harness import cli, service_process
from tests.nats_servers import need_nats
from tests.worlds import DIRECTORY

STREAM = NatsPlan(stream="LONEWATCH_DEVICES", prefix="", replicas=3).stream


def recorded_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT originator_id::text FROM lonewatch_events WHERE topic LIKE %s",
            ("%DeviceMessage.Received",),
        ).fetchall()
    return [row[0] for row in rows]


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=3) as r:
            return dict(json.loads(r.read()))
    except (OSError, ValueError) as exc:
        body = getattr(exc, "read", None)
        if body is not None:
            with contextlib.suppress(ValueError):
                return dict(json.loads(body()))
        return None


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def consumers_connected(port: int) -> bool:
    doc = health(port)
    sessions = ((doc or {}).get("checks", {}).get("broker") or {}).get("sessions") or {}
    return bool(sessions) and all(s.get("connected") for s in sessions.values())


def stream_leader(cluster: OwnNatsCluster) -> str:
    async def ask() -> str:
        import nats

        nc = await nats.connect(servers=cluster.url.removeprefix("nats://").split(","))
        try:
            info = await nc.jetstream().stream_info(STREAM)
            assert info.cluster is not None and info.cluster.leader is not None
            return info.cluster.leader
        finally:
            await nc.close()

    return asyncio.run(ask())


def consumer_states(cluster: OwnNatsCluster) -> list[str]:
    async def ask() -> list[str]:
        import nats

        nc = await nats.connect(
            servers=[f"nats://127.0.0.1:{n.ports.client}" for n in cluster.nodes if n.running]
        )
        try:
            js = nc.jetstream()
            out = [str((await js.stream_info(STREAM)).state)]
            for c in await js.consumers_info(STREAM):
                out.append(
                    f"{c.name}: pending={c.num_pending} ack_pending={c.num_ack_pending} redelivered={c.num_redelivered} delivered={c.delivered} ackfloor={c.ack_floor}"
                )
            return out
        finally:
            await nc.close()

    return asyncio.run(ask())


@contextlib.contextmanager
def cluster_of_three(workdir: Path) -> Iterator[OwnNatsCluster]:
    need_nats()
    cluster = OwnNatsCluster(workdir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_nats_node_and_serve_process_killed_under_load(
    tmp_path: Path, postgres_url: str, run_id: str
) -> None:
    """A node and a `serve` process killed: 0 lost, 0 recorded twice. The stream's leader
    killed: NATS acknowledged readings to devices that no stream stored while a new leader
    was elected (docs/scale-out.md, "NATS"); each SOS is still recorded once, because the
    device repeats it until `alert_received`."""
    with cluster_of_three(tmp_path / "nats") as cluster, contextlib.ExitStack() as stack:
        env = {
            "LW_DATABASE_URL": postgres_url,
            "LW_MQTT_URL": cluster.url,
            "LW_POLL_INTERVAL": "0.5",
        }
        cli(env, "directory", "import", str(DIRECTORY))
        ports = [free_port(), free_port()]
        services = [
            stack.enter_context(
                service_process(
                    {**env, "LW_HTTP_ADDR": f"127.0.0.1:{port}"}, tmp_path / f"s{i}.log"
                )
            )
            for i, port in enumerate(ports)
        ]
        for port in ports:
            wait_for(lambda p=port: consumers_connected(p), 60, "both consumers of a process")
        load = SteadyDevices(
            cluster.mqtt_ports, ["sos-0001"], prefix="", run=run_id, rate=80, sos_device="sos-0002"
        )
        stack.callback(load.close)
        load.start()

        def missing(before: float) -> list[tuple[tuple[str, str], float]]:
            present = set(recorded_ids(postgres_url))
            return [
                (key, at)
                for key, at in dict(load.sent.acknowledged).items()
                if at <= before and str(device_message_id(*key)) not in present
            ]

        def caught_up(before: float) -> Callable[[], bool]:
            return lambda: not missing(before)

        wait_for(lambda: len(recorded_ids(postgres_url)) > 150, 60, "steady traffic recorded")
        load.press_sos("press-1")

        # 1. A node that is not the stream's leader (devices and processes are on it).
        leader = stream_leader(cluster)
        follower = next(n for n in cluster.nodes if n.name != leader)
        follower.kill()
        killed_at = time.monotonic()
        node_takeover = wait_for(caught_up(killed_at), 60, "the store after a node died")
        follower.start()

        # 2. A serve process, holding messages it had pulled and not yet acknowledged: it
        # is frozen first (its last pull is answered into its socket), then killed.
        services[0].send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        time.sleep(1.0)
        held = len(missing(time.monotonic()))
        services[0].kill()
        services[0].wait()
        killed_at = time.monotonic()
        serve_takeover = wait_for(caught_up(killed_at), 60, "the store after serve died")
        serve_takeover += killed_at - frozen_at
        settled_at = time.monotonic()
        wait_for(caught_up(settled_at), 60, "steady traffic after the kills, all recorded")

        # 3. The stream's leader, with an SOS pressed while a new one is elected.
        leader_node = next(n for n in cluster.nodes if n.name == stream_leader(cluster))
        leader_node.kill()
        leader_killed_at = time.monotonic()
        load.press_sos("press-2")
        settled = wait_for(
            lambda: not load.sos_pending, 120, "both SOS presses answered (repeated until then)"
        )
        load.stop()
        time.sleep(ACK_WAIT_SECONDS + 2)  # anything pulled and held is delivered again
        gap = missing(time.monotonic())
        recorded = recorded_ids(postgres_url)
        twice = len(recorded) - len(set(recorded))
        window = [round(at - leader_killed_at, 2) for _, at in gap]
        print(
            f"\nNATS {nats_version()}, 3 nodes, 2 serve processes, {len(load.sent.acknowledged)} "
            f"messages acknowledged to devices, {len(recorded)} recorded, {twice} recorded twice; "
            f"{load.sent.moved_node} sends moved to another node.\n"
            f"  follower node killed: 0 lost, store caught up in {node_takeover:.1f} s\n"
            f"  serve process frozen then killed, {held} messages acknowledged to devices not yet "
            f"recorded: 0 lost, store caught up {serve_takeover:.1f} s after it stopped\n"
            f"  stream leader killed: {len(gap)} heartbeats acknowledged to devices and never "
            f"stored, acknowledged {min(window, default=0):.1f}-{max(window, default=0):.1f} s "
            f"after the kill; both SOS presses recorded once and answered "
            f"(the SOS pressed during the election answered {settled:.1f} s after the press)"
        )
        assert twice == 0
        assert set(load.sent.sos_answered) == {"press-1", "press-2"}
        for sos in ("press-1", "press-2"):
            assert str(device_message_id("sos-0002", sos)) in set(recorded)
        assert all(key[1].startswith("hb-") for key, _ in gap), "only readings, never an alarm"
        assert all(0 <= at <= 30 for at in window), "only while a new leader was elected"
