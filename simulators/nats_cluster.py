"""NATS servers of the caller's own (JetStream and the MQTT listener on), on free loopback
ports: one node, or a three-node cluster whose nodes may be killed and started again.

For tests and benchmarks that take a node away, which must never be done to the shared
server on 4222. Each node has its own JetStream directory and `server_name`, and routes to
the others (`cluster { routes }`), as a production cluster would (deploy/ has one).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators import server_process
from simulators.server_process import free_port


def nats_binary() -> str | None:
    """nats-server on PATH, or Debian's (/usr/sbin is not on every PATH)."""
    return shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )


def nats_version() -> str:
    binary = nats_binary()
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)  # noqa: S603
    return out.stdout.strip().removeprefix("nats-server: ")


@dataclass(frozen=True)
class NodePorts:
    client: int
    cluster: int
    mqtt: int
    monitor: int


def node_conf(
    name: str,
    ports: NodePorts,
    store_dir: Path,
    routes: Sequence[int] = (),
    cluster_name: str = "lonewatch",
) -> str:
    """One node's configuration: JetStream in its own directory, the MQTT listener, and
    (in a cluster) routes to the other nodes."""
    lines = [
        f"server_name: {name}",
        f"listen: 127.0.0.1:{ports.client}",
        f"http: 127.0.0.1:{ports.monitor}",
        f'jetstream {{ store_dir: "{store_dir}" }}',
        f"mqtt {{ listen: 127.0.0.1:{ports.mqtt} }}",
    ]
    if routes:
        listed = ", ".join(f"nats-route://127.0.0.1:{port}" for port in routes)
        lines.append(
            f"cluster {{ name: {cluster_name}, listen: 127.0.0.1:{ports.cluster}, "
            f"routes: [{listed}] }}"
        )
    return "\n".join(lines) + "\n"


class OwnNats:
    """One nats-server node on fixed free ports (kept across restarts, so clients
    reconnect to the same address)."""

    def __init__(self, workdir: Path, name: str, ports: NodePorts, routes: Sequence[int] = ()):
        self.binary = nats_binary() or "/usr/sbin/nats-server"
        self.name = name
        self.ports = ports
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / f"{name}.conf"
        self.conf.write_text(node_conf(name, ports, self.workdir / "jetstream", routes))
        self.log = self.workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def installed(self) -> bool:
        return Path(self.binary).exists()

    @property
    def client_address(self) -> str:
        return f"127.0.0.1:{self.ports.client}"

    @property
    def url(self) -> str:
        return f"nats://{self.client_address}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start and wait until its client and MQTT ports accept connections."""
        self.spawn()
        self.wait_listening(time.monotonic() + timeout)

    def spawn(self) -> None:
        """Start the process, not waiting for it (a cluster starts its nodes together)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own binary and config
                [self.binary, "-c", str(self.conf)], stdout=log, stderr=log
            )

    def wait_listening(self, deadline: float) -> None:
        """Until its client and MQTT ports accept connections (time.monotonic() deadline)."""
        assert self.process is not None, "spawn() first"
        server_process.wait_listening(
            self.process,
            (self.ports.client, self.ports.mqtt),
            name=f"nats-server {self.name}",
            deadline=deadline,
            detail=lambda: f"see {self.log}",
        )

    def healthy(self) -> bool:
        """The node's own verdict (`/healthz`): JetStream up and current with the cluster,
        so an MQTT client or a stream request made now is served."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.ports.monitor}/healthz", timeout=1
            ) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"nats-server {self.name} not healthy; see {self.log}")
            time.sleep(0.1)

    def kill(self) -> None:
        """A crash (SIGKILL)."""
        process, self.process = self.process, None
        server_process.kill(process)

    def stop(self, timeout: float = 10.0) -> None:
        """A clean shutdown (SIGTERM), killed if it will not go."""
        process, self.process = self.process, None
        server_process.stop(process, timeout)


class OwnNatsCluster:
    """Three (or `size`) nodes routed to each other, each with its own JetStream directory."""

    def __init__(self, workdir: Path | None = None, size: int = 3) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="lw-nats-"))
        self._owns_workdir = workdir is None
        ports = [NodePorts(free_port(), free_port(), free_port(), free_port()) for _ in range(size)]
        cluster_ports = [p.cluster for p in ports] if size > 1 else []
        self.nodes = [
            OwnNats(self.workdir / f"n{i + 1}", f"n{i + 1}", p, cluster_ports)
            for i, p in enumerate(ports)
        ]

    @property
    def installed(self) -> bool:
        return self.nodes[0].installed

    @property
    def url(self) -> str:
        """Every node's client address: what `LW_MQTT_URL=nats://...` takes."""
        return "nats://" + ",".join(node.client_address for node in self.nodes)

    @property
    def mqtt_ports(self) -> list[int]:
        return [node.ports.mqtt for node in self.nodes]

    def start(self) -> None:
        for node in self.nodes:
            node.process = None
        # Started together: a node waits for its routes, and JetStream for a meta leader.
        for node in self.nodes:
            node.spawn()
        deadline = time.monotonic() + 30
        for node in self.nodes:
            node.wait_listening(deadline)
        for node in self.nodes:
            node.wait_healthy(max(1.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def own_nats_cluster(size: int = 3, workdir: Path | None = None) -> Iterator[OwnNatsCluster]:
    """Start a cluster (a single node for `size=1`); stopped and removed after."""
    cluster = OwnNatsCluster(workdir, size)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
