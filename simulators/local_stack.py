"""The real service and a scratch database, started locally: for tests, demos and load.

Tests and benchmarks both need a PostgreSQL database of their own (dropped after)
and `lonewatch serve` as a real process (stopped after, killed if it will not stop).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from simulators import server_process

# NATS nodes and a three-node cluster of the caller's own (JetStream, MQTT listener).
from simulators.nats_cluster import OwnNats as OwnNats
from simulators.nats_cluster import OwnNatsCluster as OwnNatsCluster
from simulators.nats_cluster import own_nats_cluster as own_nats_cluster
from simulators.server_process import free_port as free_port

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A database of the caller's own on the PostgreSQL at `admin_url`, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def service_process(
    env: dict[str, str], log_path: Path, *, stop_within: float = 10.0
) -> Iterator[subprocess.Popen[bytes]]:
    """`lonewatch serve` as a real process, logging to `log_path`; asked to stop at the end
    and killed if it has not within `stop_within` seconds."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.entrypoints.cli.main", "serve"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
    try:
        yield process
    finally:
        server_process.stop(process, stop_within)


def pg_binary(name: str) -> str:
    """initdb and pg_ctl: on PATH, or in Debian's versioned directory."""
    import shutil

    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise FileNotFoundError(f"{name} is not installed (Debian: apt-get install postgresql)")


class OwnPostgres:
    """A PostgreSQL cluster of the caller's own, on a free port, that may be stopped,
    restarted and killed: for tests and benchmarks that take the database away, which
    must never do that to the shared server.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres`
    user (it exists wherever the server package is installed)."""

    def __init__(self, port: int) -> None:
        import tempfile

        # Its own directory under the system temporary directory: a test's tmp_path is
        # private to root, and the postgres user could not reach a cluster inside it.
        self.workdir = Path(tempfile.mkdtemp(prefix="lw-postgres-"))
        self.port = port
        self.data = self.workdir / "pgdata"
        self.log = self.workdir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(  # noqa: S603 - fixed argument lists of our own
            [*self._as_user, *argv], check=check, capture_output=True, timeout=120
        )

    def init(self) -> None:
        if self._as_user:
            import shutil

            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(
            pg_binary("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.workdir} -c fsync=off -c max_connections=200"
        self._run(
            pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` (clients disconnected, clean shutdown) or `immediate` (like a crash)."""
        self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()


@contextlib.contextmanager
def own_postgres(port: int) -> Iterator[OwnPostgres]:
    """Initialise and start a cluster on `port`; stopped (immediately) and removed after."""
    import shutil

    server = OwnPostgres(port)
    server.init()
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.workdir, ignore_errors=True)


MOSQUITTO_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
MOSQUITTO_ACL = REPO / "deploy" / "mosquitto" / "lonewatch.acl"


def mosquitto_conf(
    workdir: Path, port: int, *, passwd: Path | None = None, acl: Path | None = None
) -> Path:
    """The production file (deploy/mosquitto) with this port and directory, on 127.0.0.1:
    its queues, in-flight window and persistence, and optional credentials."""
    lines = []
    for line in MOSQUITTO_CONF.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {workdir}/"
        elif key == "password_file":
            line = f"password_file {passwd}" if passwd else ""
        elif key == "acl_file":
            line = f"acl_file {acl}" if acl else ""
        elif key == "allow_anonymous":
            line = f"allow_anonymous {'false' if passwd else 'true'}"
        lines.append(line)
    lines.append(f"log_dest file {workdir / 'mosquitto.log'}")
    if os.geteuid() == 0:  # else Mosquitto drops to user 'mosquitto', who cannot read workdir
        lines.append("user root")
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


class OwnMosquitto:
    """A Mosquitto of the caller's own, from the production configuration, on a free port
    that stays the same across restarts: for tests and runs that take the broker away,
    which must never do that to the shared one on 1883.

    Persistence is on (as in production): `stop()` is a clean shutdown that writes the
    sessions and queued messages to disk, and `start()` reads them back; `kill()` is a
    crash, which keeps only the last autosave (every 5 s)."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        passwd: Path | None = None,
        acl: Path | None = None,
    ) -> None:
        import shutil

        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port if port is not None else free_port()
        self.conf = mosquitto_conf(workdir, self.port, passwd=passwd, acl=acl)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def installed(self) -> bool:
        return Path(self.binary).exists()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port accepts connections."""
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and config file
            [self.binary, "-c", str(self.conf)], stderr=subprocess.PIPE
        )
        process = self.process
        server_process.wait_listening(
            process,
            [self.port],
            name="mosquitto",
            deadline=time.monotonic() + timeout,
            detail=lambda: repr(process.stderr.read() if process.stderr else b""),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """A clean shutdown (SIGTERM): persistence is written before it exits."""
        process, self.process = self.process, None
        server_process.stop(process, timeout)

    def kill(self) -> None:
        """A crash (SIGKILL): whatever was not autosaved is gone."""
        process, self.process = self.process, None
        server_process.kill(process)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def own_mosquitto(
    workdir: Path, *, passwd: Path | None = None, acl: Path | None = None
) -> Iterator[OwnMosquitto]:
    """Start a broker in `workdir`; stopped after (the directory is the caller's)."""
    broker = OwnMosquitto(workdir, passwd=passwd, acl=acl)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
