"""A school's `policy` and `arc` entries in the directory file (INTERFACES.md sections 5
and 9): each alert kind's ladder, the overdue ladder's steps, the heartbeat, the visit
rules, and the ARC link as the DC-09 link will use it.
"""

from __future__ import annotations

from typing import Any

from service.adapters.arc.dc09 import check_account
from service.adapters.arc.link import Endpoint, EndpointError
from service.adapters.directory_reader import ALERT_POLICY_KINDS, OVERDUE_ACTIONS, Reader, duration
from service.domain.devices.health import EXPECT_EVERY_SECONDS, OFFLINE_AFTER_SECONDS
from service.domain.people.directory import CONTACT_ROLES
from service.domain.visits.policy import parse_visit_policy


def parse_policy(reader: Reader, raw: object, where: str) -> dict[str, Any]:
    """A school's `policy`: what is set, checked; what is not is left to the defaults."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        reader.fail(where, "must be a mapping")
        return {}
    reader.fields(raw, "policy", where)
    policy: dict[str, Any] = {}
    for name, entry in raw.items():
        here = f"{where}.{name}"
        if name == "heartbeat":
            reader.fields(entry, "heartbeat", here)
            policy[name] = {
                k: duration(reader, entry, k, here, default)
                for k, default in (
                    ("expect_every", EXPECT_EVERY_SECONDS),
                    ("offline_after", OFFLINE_AFTER_SECONDS),
                )
            }
        elif name == "low_battery_below":
            if not isinstance(entry, int) or not 0 <= entry <= 100:
                reader.fail(here, f"must be a whole number 0-100, got {entry!r}")
            else:
                policy[name] = entry
        elif name in ALERT_POLICY_KINDS:
            policy[name] = _alert_policy(reader, entry, here, overdue=name == "overdue")
        elif name == "visits":
            visit_rules, problems = parse_visit_policy(entry, here)
            for problem in problems:
                place, _, message = problem.partition(": ")
                reader.fail(place, message)
            if visit_rules:
                policy[name] = visit_rules
    return policy


def _alert_policy(reader: Reader, entry: object, where: str, *, overdue: bool) -> dict[str, Any]:
    if not isinstance(entry, dict):
        reader.fail(where, "must be a mapping")
        return {}
    reader.fields(entry, "overdue policy" if overdue else "alert policy", where)
    result: dict[str, Any] = {
        "ack_within": duration(reader, entry, "ack_within", where, 60),
        "renotify_every": duration(reader, entry, "renotify_every", where, 60),
    }
    tiers = entry.get("tiers")
    if tiers is not None:
        if not isinstance(tiers, list) or not all(
            isinstance(t, list) and t and all(r in CONTACT_ROLES for r in t) for t in tiers
        ):
            roles = ", ".join(sorted(CONTACT_ROLES))
            reader.fail(f"{where}.tiers", f"must be a list of lists of roles ({roles})")
        else:
            result["tiers"] = tiers
    if overdue:
        result["grace"] = duration(reader, entry, "grace", where, 600)
        steps = []
        for i, step in enumerate(entry.get("steps") or []):
            here = f"{where}.steps[{i}]"
            if not isinstance(step, dict) or step.get("do") not in OVERDUE_ACTIONS:
                reader.fail(f"{here}.do", f"must be one of: {', '.join(OVERDUE_ACTIONS)}")
                continue
            reader.fields(step, "overdue step", here)
            steps.append({"after": duration(reader, step, "after", here, 0), "do": step["do"]})
        result["steps"] = steps
    return result


def parse_arc(reader: Reader, raw: object, where: str) -> dict[str, Any] | None:
    """A school's ARC (INTERFACES §9), checked as the DC-09 link will use it."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        reader.fail(
            where, "must be a mapping with url, account and optionally receiver, prefix, key"
        )
        return None
    reader.fields(raw, "arc", where)
    arc: dict[str, Any] = {
        "url": reader.text(raw, "url", where),
        "account": reader.text(raw, "account", where).upper(),
        "receiver": reader.text(raw, "receiver", where, required=False) or "R0",
        "prefix": reader.text(raw, "prefix", where, required=False) or "L0",
    }
    key = reader.text(raw, "key", where, required=False) or None
    if arc["url"]:
        try:
            Endpoint.parse(arc["url"])
        except EndpointError as exc:
            reader.fail(f"{where}.url", str(exc))
    for problem in check_account(arc["account"] or "?", arc["receiver"], arc["prefix"], key):
        reader.fail(where, problem)
    if key is not None:
        arc["key"] = key
    if raw.get("supervision") is not None:
        arc["supervision"] = max(1, duration(reader, raw, "supervision", where, 60))
    return arc
