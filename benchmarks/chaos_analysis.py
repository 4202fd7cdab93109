"""How the chaos run (benchmarks/chaos.py) judges what happened: per fault, messages lost or
duplicated, SOS latency to the first request, and each escalation step against its policy."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.chaos_harness import Chaos
from benchmarks.chaos_plan import (
    FAULT_TEXT,
    FIRST_REQUEST_WITHIN,
    SCHEDULER_INTERVAL,
    TIERS,
    Plan,
    Window,
)
from benchmarks.chaos_store import Store, StoredAlert
from benchmarks.common import (
    Figure,
    percentile,
)
from service.domain.devices.messages import ALARM_KINDS
from simulators.twilio_double import TwilioDouble


@dataclass
class StepCheck:
    alert_id: str
    step: str
    due: float
    effective_due: float
    recorded: float | None

    @property
    def lateness(self) -> float:
        return math.inf if self.recorded is None else self.recorded - self.effective_due


def expected_steps(
    alert: StoredAlert, plan: Plan, outages: list[tuple[float, float]], until: float
) -> list[StepCheck]:
    """The steps the alert's policy makes due before it was taken (or before `until`), each
    matched with the step recorded for it. A reminder round the ladder folded into a later
    one (it sends one reminder for every round due at once) counts as fired with that one."""
    policy = next((p for _, _, _, p in alert.steps if p), None)
    ack_within = int(policy["ack_within"]) if policy else plan.ack_within
    renotify = int(policy["renotify_every"]) if policy else plan.renotify_every
    tiers = len(policy["tiers"]) if policy else len(TIERS)
    cutoff = min(until, alert.acknowledged if alert.acknowledged is not None else until)

    def effective(due: float) -> float:
        # A step may fire up to one interval after it is due: when the outage begins in that
        # interval, the step had no sure chance before it, so it is due when it is back. (A
        # tier due 0.16 s before PostgreSQL stopped, taken 0.5 s after it was back, was
        # counted "missing" though the service had never had its interval for it.)
        for start, end in outages:
            if start - SCHEDULER_INTERVAL < due <= end:
                return end
        return due

    wanted: list[tuple[str, float]] = [("tier1", alert.raised)]
    wanted += [(f"tier{t}", alert.raised + ack_within * (t - 1)) for t in range(2, tiers + 1)]
    k = 1
    while alert.raised + renotify * k < cutoff:
        wanted.append((f"renotify{k}", alert.raised + renotify * k))
        k += 1
    checks = []
    for name, due in wanted:
        eff = effective(due)
        if eff + SCHEDULER_INTERVAL >= cutoff:
            continue  # taken (or the run ended) before the step had its chance
        if name.startswith("renotify"):
            rounds = int(name.removeprefix("renotify"))
            fired = [at for s, r, at, _ in alert.steps if s.startswith("renotify") and r >= rounds]
        else:
            fired = [at for s, _, at, _ in alert.steps if s == name]
        checks.append(StepCheck(alert.alert_id, name, due, eff, min(fired) if fired else None))
    return checks


def _window_of(windows: list[Window], at: float) -> Window | None:
    for window in windows:
        if window.start <= at < window.end:
            return window
    return windows[-1] if windows and at >= windows[-1].end else None


def analyse(chaos: Chaos, store: Store, until: float) -> dict[str, dict[str, Any]]:
    plan, windows = chaos.plan, chaos.windows
    outages = [(w.fault_start, w.recovered) for w in windows if w.outage]
    rows: dict[str, dict[str, Any]] = {}
    for w in windows:
        rows[w.fault] = {
            "fault": FAULT_TEXT[w.fault],
            "seconds": {
                "before": round(w.fault_start - w.start, 1),
                "fault": round(w.recovered - w.fault_start, 1),
                "after": round(w.end - w.recovered, 1),
            },
            "sent": 0,
            "publishes": 0,
            "acknowledged_by_broker": 0,
            "recorded": 0,
            "duplicated": 0,
            "lost": 0,
            "unconfirmed": 0,
            "lost_ids": [],
            "sos_during_ms": [],
            "sos_after_ms": [],
            "sos_before_ms": [],
            "sos_missed": 0,
            "steps_due": 0,
            "steps_late": 0,
            "steps_missing": 0,
            "step_lateness_max_s": 0.0,
            "late_steps": [],
        }
    for sent in chaos.sent.values():
        found = _window_of(windows, sent.at)
        if found is None:
            continue
        row = rows[found.fault]
        times = store.messages.get((sent.device, sent.message_id), 0)
        row["sent"] += 1
        row["publishes"] += sent.publishes
        row["acknowledged_by_broker"] += int(sent.acknowledged)
        row["recorded"] += int(times > 0)
        row["duplicated"] += max(0, times - 1)
        if times == 0 and sent.acknowledged:
            row["lost"] += 1
            row["lost_ids"].append(f"{sent.device}/{sent.message_id} ({sent.kind})")
        elif times == 0:
            row["unconfirmed"] += 1
    for press in chaos.presses.values():
        found = _window_of(windows, press.at)
        if found is None:
            continue
        row = rows[found.fault]
        during = found.fault_start <= press.at <= found.recovered
        if press.first_request is None:
            row["sos_missed"] += 1
            latency = math.inf
        else:
            start = max(press.at, found.recovered) if during and found.outage else press.at
            # 0 when the service was quicker than the harness to see it back (a restarted
            # service can text before its health endpoint has answered the harness).
            latency = max(0.0, press.first_request - start) * 1000
        if during:
            row["sos_during_ms"].append(latency)
        elif press.at < found.fault_start:
            row["sos_before_ms"].append(latency)
        else:
            row["sos_after_ms"].append(latency)
    for alert in store.alerts.values():
        if alert.kind not in ALARM_KINDS:
            continue
        for check in expected_steps(alert, plan, outages, until):
            found = _window_of(windows, check.effective_due)
            if found is None:
                continue
            row = rows[found.fault]
            row["steps_due"] += 1
            late = check.lateness
            if late > SCHEDULER_INTERVAL:
                row["steps_missing" if math.isinf(late) else "steps_late"] += 1
                row["late_steps"].append(
                    {
                        "alert": check.alert_id,
                        "step": check.step,
                        "late_s": None if math.isinf(late) else round(late, 2),
                    }
                )
            if not math.isinf(late):
                row["step_lateness_max_s"] = max(row["step_lateness_max_s"], round(late, 3))
    for row in rows.values():
        row["lost_ids"] = row["lost_ids"][:20]
        row["late_steps"] = row["late_steps"][:20]
    return rows


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    worst = max(values)
    return "never" if math.isinf(worst) else f"{percentile(values, 50):.0f}/{worst:.0f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def met_by(row: dict[str, Any]) -> dict[str, bool]:
    first = [*row["sos_during_ms"], *row["sos_after_ms"]]
    return {
        "lost": row["lost"] == 0,
        "duplicated": row["duplicated"] == 0,
        "first_request": all(x <= FIRST_REQUEST_WITHIN * 1000 for x in first),
        "steps": row["steps_late"] == 0 and row["steps_missing"] == 0,
    }


def chaos_table(rows: dict[str, dict[str, Any]]) -> str:
    """One line per fault: what was sent and recorded, how soon the first text went, and
    whether the ladder kept time; each target's verdict beside its measure."""
    head = (
        "fault",
        "sent",
        "recorded",
        "dup",
        "lost",
        "unconf",
        "0 lost/dup",
        "SOS during p50/max ms",
        "SOS after p50/max ms",
        "<= 2 s",
        "steps due",
        "late",
        "missing",
        "worst s",
        "on time",
    )
    lines = [head]
    for name, row in rows.items():
        met = met_by(row)
        lines.append(
            (
                name,
                str(row["sent"]),
                str(row["recorded"]),
                str(row["duplicated"]),
                str(row["lost"]),
                str(row["unconfirmed"]),
                _met(met["lost"] and met["duplicated"]),
                f"{_ms(row['sos_during_ms'])} ({len(row['sos_during_ms'])})",
                f"{_ms(row['sos_after_ms'])} ({len(row['sos_after_ms'])})",
                _met(met["first_request"]),
                str(row["steps_due"]),
                str(row["steps_late"]),
                str(row["steps_missing"]),
                f"{row['step_lateness_max_s']:.2f}",
                _met(met["steps"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def figures_for(rows: dict[str, dict[str, Any]]) -> list[Figure]:
    figures = []
    for name, row in rows.items():
        first = [*row["sos_during_ms"], *row["sos_after_ms"]]
        worst = max(first) if first else 0.0
        figures += [
            Figure(f"{name}: messages lost", row["lost"], "msgs", 0, at_least=False),
            Figure(f"{name}: messages duplicated", row["duplicated"], "msgs", 0, at_least=False),
            Figure(
                f"{name}: SOS first request, worst",
                worst,
                "ms",
                FIRST_REQUEST_WITHIN * 1000,
                at_least=False,
            ),
            Figure(
                f"{name}: steps late or missing",
                row["steps_late"] + row["steps_missing"],
                "steps",
                0,
                at_least=False,
            ),
        ]
    return figures


def double_sends(double: TwilioDouble) -> int:
    """Notifications Twilio accepted more than once (each names its notification in the
    status callback URL): the invariant is at most once."""
    accepted: Counter[str] = Counter()
    for record in [*double.messages, *double.calls]:
        callback = record["form"].get("StatusCallback", "")
        if record.get("status") == 201 and "notification=" in callback:
            accepted[callback.split("notification=", 1)[1]] += 1
    return sum(n - 1 for n in accepted.values() if n > 1)
