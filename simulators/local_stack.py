"""The real service and a scratch database, started locally: for tests, demos and load.

Tests and benchmarks both need a PostgreSQL database of their own (dropped after)
and `lonewatch serve` as a real process (stopped after, killed if it will not stop).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

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
            [sys.executable, "-m", "service.cli", "serve"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(stop_within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _pg_binary(name: str) -> str:
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
            _pg_binary("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.workdir} -c fsync=off -c max_connections=200"
        self._run(
            _pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` (clients disconnected, clean shutdown) or `immediate` (like a crash)."""
        self._run(_pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

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
