"""Several `lonewatch serve` processes on one store, as a supervisor (systemd) runs them:
started one after another, killed, started again under the same broker client id; and
the Twilio double as a process of its own, asked what reached it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.local_stack import REPO, free_port

SID = "AC" + "0" * 32
TOKEN = "test-auth-token"


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_for(check: Any, what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(every)
    return found


@contextlib.contextmanager
def twilio_double_process(log_path: Path) -> Iterator[str]:
    """`python -m simulators.twilio_double` on a free port; its base URL."""
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulators.twilio_double", "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/_double/messages"), "the Twilio double", 20)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        get_json(url, timeout=0.5)
    except OSError:
        return False
    return True


def twilio_env(base: str, public_url: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+441702999999",
        "LW_TWILIO_API_BASE": base,
        "LW_PUBLIC_URL": public_url,
    }


@dataclass(frozen=True)
class Request:
    """One request that reached the double: which notification, when, answered how."""

    kind: str
    notification: str
    at: float
    """The double's monotonic clock (same machine: comparable between requests)."""
    status: int


def requests_at_double(base: str) -> list[Request]:
    found = []
    for kind in ("messages", "calls"):
        for record in get_json(f"{base}/_double/{kind}"):
            form = record["form"]
            url = form.get("StatusCallback") or form.get("Url") or ""
            key = parse_qs(urlsplit(url).query).get("notification", [""])[0]
            found.append(Request(kind, key, record["received_monotonic"], record["status"]))
    return sorted(found, key=lambda r: r.at)


def sent_twice(requests: list[Request]) -> dict[str, int]:
    """Notifications the provider accepted more than once: what must never happen."""
    accepted = Counter(r.notification for r in requests if r.status < 300)
    return {key: n for key, n in accepted.items() if n > 1}


@dataclass
class Fleet:
    """`serve` processes by name, each with its own HTTP port and broker client id."""

    env: dict[str, str]
    logs: Path
    run_id: str
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)

    def http(self, name: str) -> str:
        if name not in self.ports:
            self.ports[name] = free_port()
        return f"127.0.0.1:{self.ports[name]}"

    def client_id(self, name: str) -> str:
        return f"lw-{name}-{self.run_id}"

    def start(self, name: str, *, wait: bool = True) -> subprocess.Popen[bytes]:
        self.starts[name] += 1
        env = {
            **os.environ,
            "LW_LOG_FORMAT": "json",
            **self.env,
            "LW_HTTP_ADDR": self.http(name),
            "LW_MQTT_CLIENT_ID": self.client_id(name),
        }
        log_path = self.log(name)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.entrypoints.cli.main", "serve"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        self.processes[name] = process
        if wait:
            self.wait_healthy(name)
        return process

    def log(self, name: str) -> Path:
        return self.logs / f"{name}-{self.starts[name]}.log"

    def health(self, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = get_json(f"http://{self.http(name)}/api/v1/health", 1.0)
        except (OSError, ValueError):
            return None
        return body

    def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        process = self.processes[name]

        def up() -> bool:
            assert process.poll() is None, f"{name} exited: {self.log(name).read_text()[-3000:]}"
            body = self.health(name)
            return bool(body and body["checks"].get("broker", {}).get("ok"))

        wait_for(up, f"{name} healthy", timeout)

    def kill(self, name: str) -> float:
        """SIGKILL, as a crash; returns when (monotonic) it was sent."""
        process = self.processes[name]
        at = time.monotonic()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        return at

    def name_of(self, holder: str) -> str | None:
        """Which of ours a lease holder (`host:pid:http addr`) is."""
        for name, process in self.processes.items():
            if holder.split(":")[1] == str(process.pid):
                return name
        return None

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def lease_holders(database_url: str) -> dict[str, tuple[str, int, float]]:
    """name -> (holder, token, seconds until it expires), as the store has them."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, holder, token, extract(epoch FROM expires_at - now()) FROM lw_leases"
        ).fetchall()
    return {str(n): (str(h), int(t), float(e)) for n, h, t, e in rows}
