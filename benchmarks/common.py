"""What every benchmark needs: its own broker, database and service process, and honest figures.

Everything is bounded (counts, seconds) and dials only 127.0.0.1. Each run makes its
own Mosquitto (a temp config on a free port), its own PostgreSQL database (dropped
afterwards) and writes its figures to benchmarks/results/NAME.json.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulators.local_stack import REPO, scratch_database, service_process

RESULTS = REPO / "benchmarks" / "results"
HOST = "127.0.0.1"
POSTGRES_ADMIN_URL = os.environ.get(
    "LW_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MOSQUITTO = os.environ.get("LW_BENCH_MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
ACCOUNT = "AC" + "be0c" * 8
AUTH_TOKEN = "bench-auth-token"


@dataclass(frozen=True)
class Figure:
    """One measured figure against its target: `at_least` for rates, `at_most` for times."""

    name: str
    value: float
    unit: str
    target: float | None = None
    at_least: bool = True
    reference: str = ""  # what the same run measured to compare with (e.g. the no-load figure)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.at_least else self.value <= self.target


@dataclass
class Result:
    benchmark: str
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.benchmark}{'-quick' if self.quick else ''}.json"
        doc = {
            "benchmark": self.benchmark,
            "quick": self.quick,
            "machine": machine(),
            "figures": [asdict(f) | {"met": f.met} for f in self.figures],
            "details": self.details,
        }
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        return path


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def table(figures: Sequence[tuple[str, Figure]]) -> str:
    rows = [("benchmark", "figure", "value", "target", "met", "reference (same run)")]
    for bench, f in figures:
        op = ">=" if f.at_least else "<="
        target = "-" if f.target is None else f"{op} {_num(f.target)} {f.unit}"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((bench, f.name, f"{_num(f.value)} {f.unit}", target, met, f.reference or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(x: float) -> str:
    if math.isinf(x) or math.isnan(x):
        return str(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; `values` need not be sorted."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout}s")
        time.sleep(0.05)


@contextlib.contextmanager
def own_mosquitto(max_connections: int = 20_000) -> Iterator[int]:
    """A Mosquitto of this run's own: no persistence, no queue limit, a wide in-flight window.

    The shared broker on 1883 keeps its defaults (1000 queued per client, dropped
    silently beyond): a benchmark that pushes hard would lose messages there.
    """
    from simulators.mqtt_asyncio import raise_open_files_limit

    raise_open_files_limit(max_connections + 1024)  # the broker inherits it
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lw-bench-mqtt-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} {HOST}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 0\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 1000\n"
            "max_keepalive 600\n"
            f"max_connections {max_connections + 100}\n"
            "log_type error\n"
            "log_type warning\n"
        )
        log = (Path(tmp) / "mosquitto.log").open("wb")
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        try:
            wait_port(port)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def own_database(tag: str) -> contextlib.AbstractContextManager[str]:
    """A PostgreSQL database of this run's own, dropped afterwards."""
    return scratch_database(POSTGRES_ADMIN_URL, f"lw_bench_{tag}")


def write_directory(path: Path, *, devices: int, staff: int = 100, users: bool = True) -> Path:
    """One school, one contact-centre desk, `staff` people sharing `devices` fobs named
    bench-00000... Fobs carry no secret (hashing 10,000 is not what we measure)."""
    lines = [
        "organisation: Benchmark Trust",
        "schools:",
        "  - id: bench",
        "    name: Benchmark School",
        "    timezone: Europe/London",
        '    working_hours: "08:00-18:00"',
        "    contacts:",
        '      - {id: cc-1, name: Contact centre desk, role: contact_centre, phone: "+441700000010"}',
        '      - {id: dsl-1, name: A. Lead, role: dsl, phone: "+441700000011"}',
        "    policy:",
        "      sos: {ack_within: 60s, renotify_every: 60s, tiers: [[contact_centre], [dsl]]}",
        "staff:",
    ]
    lines += [f"  - {{id: st-{i:04d}, school: bench, name: Staff {i}}}" for i in range(staff)]
    lines.append("devices:")
    lines += [
        f"  - {{id: bench-{i:05d}, kind: sos_fob, staff: st-{i % staff:04d}}}"
        for i in range(devices)
    ]
    if users:
        lines += ["users:", "  - {username: bench-operator, school: bench, role: operator}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def service_env(
    *, database_url: str, mqtt_port: int, http_port: int, twilio_base: str | None = None
) -> dict[str, str]:
    env = {
        "LW_DATABASE_URL": database_url,
        "LW_MQTT_URL": f"mqtt://{HOST}:{mqtt_port}",
        "LW_HTTP_ADDR": f"{HOST}:{http_port}",
        "LW_MQTT_CLIENT_ID": f"lw-bench-{uuid.uuid4().hex[:8]}",
        "LW_LOG_FORMAT": "json",
        "LW_POLL_INTERVAL": "0.5",
    }
    if twilio_base is not None:
        env.update(
            TWILIO_ACCOUNT_SID=ACCOUNT,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER="+441700999999",
            LW_TWILIO_API_BASE=twilio_base,
        )
    return env


def lonewatch(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "service.entrypoints.cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"lonewatch {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout.strip()


def serve(
    env: dict[str, str], log_path: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`lonewatch serve` as a process, whatever gateway is in the tree; stopped at the end."""
    return service_process(env, log_path, stop_within=15)


def health(http_port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(
            f"http://{HOST}:{http_port}/api/v1/health", timeout=5
        ) as response:
            doc: dict[str, Any] = json.loads(response.read())
            return doc
    except (OSError, ValueError) as exc:
        body = getattr(exc, "read", None)
        if body is not None:  # a 503 still carries the checks
            with contextlib.suppress(ValueError):
                return dict(json.loads(body()))
        return None


def wait_healthy(
    http_port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        doc = health(http_port)
        if doc and doc.get("status") == "ok":
            return
        time.sleep(0.2)
    raise TimeoutError(f"service not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB."""
    values: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def store_head(database_url: str) -> int:
    """The event store's last position, read straight from PostgreSQL."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT MAX(notification_id) FROM lonewatch_events").fetchone()
    return int(row[0] or 0) if row else 0


def count_device_messages(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM lonewatch_events WHERE topic LIKE %s",
            ("%DeviceMessage.Received",),
        ).fetchone()
    return int(row[0]) if row else 0
