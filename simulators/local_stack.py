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
