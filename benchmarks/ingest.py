"""1. Durable ingest: heartbeats at full speed through Mosquitto into the store, against the raw pipe.

The same publisher (simulators.fleet flood) runs five times through the same broker: to a
plain paho subscriber that only counts (the raw pipe), then to `lonewatch serve` (whatever
gateway is in the tree) on PostgreSQL, the raw pipe again, the service on SQLite, and the
raw pipe a third time. Each store's ratio is to the mean of the two pipes either side of
it: on this shared machine the pipe alone moved 12,000-25,000 msg/s between runs minutes
apart, so one pipe measured before both stores was a poor reference for the later. The
figure is events committed per second over the publishing window, read from the event
store's head; beside it the gateway's own count of acknowledged messages, the rate until
every message the broker acknowledged is recorded, and the service's CPU per event
(every thread, from /proc) over that time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import ingest_window
from benchmarks.common import (
    Figure,
    Result,
    free_port,
    health,
    lonewatch,
    own_database,
    own_mosquitto,
    rss_mb,
    serve,
    service_env,
    wait_healthy,
    write_directory,
)
from simulators.local_stack import REPO

TARGET_RATE = 10_000.0
TARGET_RATIO = 0.6
TARGET_RATIO_SQLITE = 0.8
DRAIN_LIMIT_SECONDS = 900.0
STALL_SECONDS = 15.0
DEVICES = 1000


def _flood(port: int, seconds: float, run: str, rate: float | None = None) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-m",
        "simulators.fleet",
        "flood",
        "--port",
        str(port),
        "--devices",
        str(DEVICES),
        "--duration",
        str(seconds),
        "--connections",
        "4",
        "--run",
        run,
    ]
    if rate is not None:
        args += ["--rate", str(rate)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)


def flood_report(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def rate_in_window(samples: list[tuple[float, int]], start: float, end: float) -> float:
    """Growth per second of a sampled counter between two instants (linear interpolation)."""

    def at(t: float) -> float:
        before = [s for s in samples if s[0] <= t]
        after = [s for s in samples if s[0] >= t]
        if not before:
            return float(samples[0][1])
        if not after:
            return float(samples[-1][1])
        (t0, v0), (t1, v1) = before[-1], after[0]
        return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    return (at(end) - at(start)) / (end - start)


def raw_pipe(port: int, seconds: float) -> dict[str, Any]:
    sub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.raw_subscriber",
            *("--port", str(port), "--seconds", str(seconds + 3)),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sub.stdout is not None
    sub.stdout.readline()  # ready
    publisher = flood_report(_flood(port, seconds, "raw"), seconds + 60)
    out, _ = sub.communicate(timeout=30)
    samples = [tuple(s) for s in json.loads(out.strip().splitlines()[-1])["samples"]]
    start = publisher["started_at"]
    received = rate_in_window(samples, start, start + publisher["seconds"])  # type: ignore[arg-type]
    return {"publisher": publisher, "received_per_s": received}


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def service_rate(
    env: dict[str, str], mqtt_port: int, seconds: float, tmp: Path, tag: str
) -> dict[str, Any]:
    """`lonewatch serve` under the flood: events recorded per second in the publishing
    window (from the store's head), the same once everything acknowledged is recorded,
    and the service's CPU per event over that whole time."""
    http_port = free_port()  # chosen late: the raw pipe's sockets may have taken one
    # A client id (so a broker session) of its own: what an earlier run left is not ours.
    client_id = f"{env['LW_MQTT_CLIENT_ID']}-{tag}"
    env = {**env, "LW_HTTP_ADDR": f"127.0.0.1:{http_port}", "LW_MQTT_CLIENT_ID": client_id}
    log = tmp / f"service-{tag}.log"
    samples: list[tuple[float, int]] = []
    acked: list[tuple[float, int]] = []
    ticks: list[ingest_window.Tick] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            doc = health(http_port)
            now = time.monotonic()
            if doc:
                samples.append((now, int(doc["checks"]["event_store"]["head"])))
                gateway = doc["checks"].get("gateway", {})
                acked.append((now, int(gateway.get("recorded", 0))))
                ticks.append(ingest_window.tick(now, http_port, cpu_seconds(proc.pid), gateway))
            stop.wait(0.25)

    with serve(env, log) as proc:
        wait_healthy(http_port, proc, log)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        time.sleep(1.0)
        recorded_at_start = acked[-1][1] if acked else 0
        cpu_start = cpu_seconds(proc.pid)
        pg_start = _pg_sample(env["LW_DATABASE_URL"])
        publisher = flood_report(_flood(mqtt_port, seconds, tag), seconds + 60)
        # Then until every message the broker acknowledged is recorded, or nothing more has
        # been for STALL_SECONDS (a loss, or a stuck service). A fixed limit judged a backlog
        # still draining as lost: an unthrottled flood now leaves 150 s of it.
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        progress = (time.monotonic(), acked[-1][1] if acked else 0)
        while time.monotonic() < deadline:
            if acked and acked[-1][1] - recorded_at_start >= publisher["acked"]:
                break
            now, recorded = time.monotonic(), acked[-1][1] if acked else 0
            if recorded > progress[1]:
                progress = (now, recorded)
            elif now - progress[0] > STALL_SECONDS:
                break
            time.sleep(0.1)
        drained_at = acked[-1][0] if acked else time.monotonic()
        recorded_total = (acked[-1][1] if acked else 0) - recorded_at_start
        cpu = cpu_seconds(proc.pid) - cpu_start
        peak_mb = rss_mb(proc.pid)[1]
        stop.set()
        sampler.join()
        pg_costs = _pg_costs(env["LW_DATABASE_URL"], pg_start, recorded_total)
    start = publisher["started_at"]
    end = start + publisher["seconds"]
    return {
        "recorded_per_s": rate_in_window(samples, start, end),
        "acknowledged_per_s": rate_in_window(acked, start, end) if acked else 0.0,
        "sustained_per_s": recorded_total / max(1e-9, drained_at - start),
        "all_recorded": recorded_total >= publisher["acked"],
        "recorded": recorded_total,
        "cpu_us_per_event": cpu / recorded_total * 1e6 if recorded_total else float("inf"),
        **pg_costs,
        **ingest_window.in_window(ticks, start, end),
        "rss_peak_mb": peak_mb,
        "publisher": publisher,
        "head_samples": samples[-3:],
    }


def _pg_sample(url: str) -> Any:
    """PostgreSQL's counters for the run's database (None on SQLite): see growth_pg."""
    from benchmarks import growth_pg

    return growth_pg.sample(url) if url.startswith("postgresql") else None


def _pg_costs(url: str, before: Any, recorded: int) -> dict[str, Any]:
    """PostgreSQL's backends' CPU and the commits per event recorded, from the flood's
    start until all was recorded (and the views had a moment to follow)."""
    if before is None:
        return {}
    from benchmarks import growth_pg

    costs = growth_pg.difference(before, growth_pg.settled_sample(url), recorded)
    return {
        "postgres_cpu_us_per_event": costs["postgres_cpu_us_per_event"],
        "commits_per_event": round(costs["commits"] / max(1, recorded), 4),
    }


def ratio(recorded: float, pipe: float) -> float:
    """A store's events recorded per second over the pipe's messages per second (0 if the
    pipe moved nothing: no reference, no ratio)."""
    return recorded / pipe if pipe else 0.0


def _bracket(before: float, after: float) -> str:
    return f"raw pipe {(before + after) / 2:,.0f} msg/s (mean of {before:,.0f} before, {after:,.0f} after)"


def _brief(figures: dict[str, Any]) -> str:
    return (
        f"{figures['recorded_per_s']:,.0f} ev/s while publishing, "
        f"{figures['sustained_per_s']:,.0f} ev/s until all {figures['recorded']:,} recorded "
        f"(all: {figures['all_recorded']}), {figures['cpu_us_per_event']:,.0f} CPU-us per event; "
        f"while publishing: machine idle {figures.get('machine_idle_share', 0):.2f}, service "
        f"{figures.get('service_cores', 0):.2f} of a core, bulk groups of "
        f"{figures.get('bulk_group_mean', 0):,.0f} in {figures.get('bulk_commit_ms_mean', 0):.1f} ms, "
        f"{figures.get('bulk_backlog_mean', 0):,.0f} waiting"
    )


def _window_figures(store: str, figures: dict[str, Any]) -> list[Figure]:
    """What bounded the intake while publishing (benchmarks/ingest_window.py): an idle
    machine says a wait (the in-flight window over a commit), a busy one CPU."""
    return [
        Figure(
            f"machine idle share while publishing ({store})",
            figures.get("machine_idle_share", 0.0),
            "",
            reference="all cores, /proc/stat",
        ),
        Figure(f"service cores while publishing ({store})", figures.get("service_cores", 0.0), ""),
        Figure(
            f"bulk group while publishing ({store})", figures.get("bulk_group_mean", 0.0), "msgs"
        ),
        Figure(
            f"bulk commit while publishing ({store})",
            figures.get("bulk_commit_ms_mean", 0.0),
            "ms",
        ),
        Figure(
            f"bulk lane backlog while publishing ({store})",
            figures.get("bulk_backlog_mean", 0.0),
            "msgs",
        ),
        Figure(f"service peak RSS ({store})", figures.get("rss_peak_mb", 0.0), "MB"),
    ]


def run(quick: bool) -> Result:
    seconds = 8.0 if quick else 60.0
    result = Result("ingest", quick)
    with (
        own_mosquitto() as mqtt_port,
        own_database("ingest") as db,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        where = Path(tmp)
        directory = write_directory(where / "directory.yaml", devices=DEVICES)
        env = service_env(database_url=db, mqtt_port=mqtt_port, http_port=free_port())
        lonewatch(env, "directory", "import", str(directory))
        sqlite_env = {**env, "LW_DATABASE_URL": f"sqlite:///{where / 'store.sqlite3'}"}
        lonewatch(sqlite_env, "directory", "import", str(directory))
        pipes = [raw_pipe(mqtt_port, seconds)]
        pg = service_rate(env, mqtt_port, seconds, where, "postgres")
        print(f"   postgres: {_brief(pg)}", flush=True)
        pipes.append(raw_pipe(mqtt_port, seconds))
        lite = service_rate(sqlite_env, mqtt_port, seconds, where, "sqlite")
        print(f"   sqlite: {_brief(lite)}", flush=True)
        pipes.append(raw_pipe(mqtt_port, seconds))
    rates = [p["received_per_s"] for p in pipes]
    print("   raw pipe before, between, after: " + ", ".join(f"{r:,.0f}" for r in rates))
    pg_pipe, lite_pipe = (rates[0] + rates[1]) / 2, (rates[1] + rates[2]) / 2
    result.add(
        Figure("events recorded/s (PostgreSQL)", pg["recorded_per_s"], "ev/s", TARGET_RATE),
        Figure(
            "ratio to raw pipe (PostgreSQL)",
            ratio(pg["recorded_per_s"], pg_pipe),
            "x",
            TARGET_RATIO,
            reference=_bracket(rates[0], rates[1]),
        ),
        Figure(
            "ratio to raw pipe (SQLite)",
            ratio(lite["recorded_per_s"], lite_pipe),
            "x",
            TARGET_RATIO_SQLITE,
            reference=_bracket(rates[1], rates[2]),
        ),
        Figure("events recorded/s (SQLite)", lite["recorded_per_s"], "ev/s"),
        Figure("raw pipe (no storage), before PostgreSQL", rates[0], "msg/s"),
        Figure("raw pipe (no storage), between the stores", rates[1], "msg/s"),
        Figure("raw pipe (no storage), after SQLite", rates[2], "msg/s"),
        Figure("acknowledged/s (gateway count, PostgreSQL)", pg["acknowledged_per_s"], "msg/s"),
        Figure(
            "until all recorded/s (PostgreSQL)",
            pg["sustained_per_s"],
            "ev/s",
            reference="flood start to the last acknowledged message recorded",
        ),
        Figure("until all recorded/s (SQLite)", lite["sustained_per_s"], "ev/s"),
        Figure("service CPU per event (PostgreSQL)", pg["cpu_us_per_event"], "us"),
        Figure("PostgreSQL's CPU per event", pg.get("postgres_cpu_us_per_event", 0.0), "us"),
        Figure("commits per event (PostgreSQL)", pg.get("commits_per_event", 0.0), ""),
        Figure("service CPU per event (SQLite)", lite["cpu_us_per_event"], "us"),
        *_window_figures("PostgreSQL", pg),
        *_window_figures("SQLite", lite),
        Figure(
            "every acknowledged message recorded",
            float(pg["all_recorded"] and lite["all_recorded"]),
            "yes",
            1.0,
        ),
    )
    result.details = {
        "seconds": seconds,
        "devices": DEVICES,
        "raw_publishers": [p["publisher"] for p in pipes],
        "raw_pipes": rates,
        "postgres": pg,
        "sqlite": lite,
    }
    return result
