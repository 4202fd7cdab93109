"""deploy/: the three-node NATS configuration forms a cluster with JetStream, and the
compose file and systemd units name only settings and files that exist.

The NATS nodes are the deploy files themselves, with only their hosts, ports and
JetStream directories moved to this machine's loopback and a test directory.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from service.config import load_settings
from simulators.local_stack import free_port
from tests.conftest import REQUIRE_SERVICES
from tests.processes import get_json, wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NODES = (1, 2, 3)


def on_loopback(conf: str, ports: dict[int, dict[str, int]], node: int, store: Path) -> str:
    """The deploy file of `node`, with every host and port moved to 127.0.0.1."""
    for other in NODES:
        conf = conf.replace(
            f"nats-route://nats-{other}:6222", f"nats-route://127.0.0.1:{ports[other]['cluster']}"
        )
    mine = ports[node]
    conf = conf.replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{mine['client']}")
    conf = conf.replace("http: 0.0.0.0:8222", f"http: 127.0.0.1:{mine['http']}")
    conf = conf.replace("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{mine['cluster']}")
    conf = conf.replace("listen: 0.0.0.0:1883", f"listen: 127.0.0.1:{mine['mqtt']}")
    return conf.replace("/var/lib/nats/jetstream", str(store))


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[dict[int, dict[str, int]]]:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        if REQUIRE_SERVICES:
            pytest.fail("nats-server is not installed and LW_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip("nats-server is not installed")
    ports = {
        n: {"client": free_port(), "http": free_port(), "cluster": free_port(), "mqtt": free_port()}
        for n in NODES
    }
    with contextlib.ExitStack() as stack:
        for n in NODES:
            conf = tmp_path / f"nats-{n}.conf"
            source = (DEPLOY / "nats" / f"nats-{n}.conf").read_text()
            conf.write_text(on_loopback(source, ports, n, tmp_path / f"js-{n}"))
            log = stack.enter_context((tmp_path / f"nats-{n}.log").open("wb"))
            process = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
            stack.callback(_stop, process)
        yield ports


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_three_nats_nodes_form_one_cluster_with_a_jetstream_leader(
    nats_cluster: dict[int, dict[str, int]],
) -> None:
    def formed() -> dict[str, object] | None:
        try:
            js = get_json(f"http://127.0.0.1:{nats_cluster[1]['http']}/jsz", timeout=1)
            routes = [
                get_json(f"http://127.0.0.1:{p['http']}/routez", timeout=1)["num_routes"]
                for p in nats_cluster.values()
            ]
        except OSError:
            return None
        meta = js.get("meta_cluster") or {}
        return (
            js
            if meta.get("leader") and meta.get("cluster_size") == 3 and min(routes) >= 2
            else None
        )

    js = wait_for(formed, "the cluster and its JetStream meta leader", timeout=60, every=0.5)
    print(f"\nJetStream meta leader: {js['meta_cluster']['leader']}")


def settings_from(env: dict[str, str], tmp_path: Path) -> None:
    """The service's own reading of these settings (as a config file, which refuses a key it
    does not know), the NATS URL included."""
    lw = {k: v for k, v in env.items() if k.startswith("LW_")}
    conf = tmp_path / "settings.toml"
    conf.write_text("".join(f"{k} = {json.dumps(str(v))}\n" for k, v in lw.items()))
    load_settings({}, conf)


def test_the_compose_file_runs_two_services_on_one_store_and_the_nats_cluster(
    tmp_path: Path,
) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "nats-1", "nats-2", "nats-3", "lonewatch-1", "lonewatch-2"} <= set(services)
    ids = set()
    for name in ("lonewatch-1", "lonewatch-2"):
        env = services[name]["environment"]
        settings_from(env, tmp_path)
        assert env["LW_MQTT_URL"].startswith("nats://")
        ids.add(env["LW_MQTT_CLIENT_ID"])
    assert len(ids) == 2, "each process its own client id"
    for n in NODES:
        volume = services[f"nats-{n}"]["volumes"][0].split(":")[0]
        assert (DEPLOY / volume).is_file()


def test_the_systemd_units_start_what_the_deploy_folder_holds(tmp_path: Path) -> None:
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {
        "lonewatch@.service",
        "lonewatch-mosquitto.service",
        "lonewatch-nats@.service",
    }
    assert "lonewatch serve" in units["lonewatch@.service"]
    assert "LW_MQTT_CLIENT_ID=lonewatch-%H-%i" in units["lonewatch@.service"]
    assert "/etc/lonewatch/nats/nats-%i.conf" in units["lonewatch-nats@.service"]
    assert "/etc/mosquitto/mosquitto.conf" in units["lonewatch-mosquitto.service"]
    example = (DEPLOY / "systemd" / "lonewatch.env.example").read_text()
    settings_from(dict(re.findall(r"^(LW_[A-Z_]+)=(.*)$", example, re.MULTILINE)), tmp_path)
