"""Each school's link to its alarm receiving centre (ARC), and how that link is doing.

A link is made from the school's `arc:` entry and made again when that entry changes;
every exchange on it (an alarm, a restoral, a supervision poll) updates its health, which
`/api/v1/health` reports and whose failure it names as a reason (service/workers/health.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from service.adapters.arc.dc09 import ArcAccount
from service.adapters.arc.link import ANSWER_WITHIN, ArcLink, Endpoint, Exchange


@dataclass
class LinkHealth:
    """One school's ARC as health reports it: the last exchange's outcome."""

    url: str
    ok_at: datetime | None = None
    failing_since: datetime | None = None
    error: str | None = None
    tries: int = 0
    acks: int = 0
    down_alert: UUID | None = None

    def report(self) -> dict[str, Any]:
        return {
            "ok": self.failing_since is None,
            "url": self.url,
            "last_ack": self.ok_at.isoformat() if self.ok_at else None,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "error": self.error,
            "tries": self.tries,
            "acks": self.acks,
        }


class ArcLinks:
    """The links by school, with their health; `now` is the injected clock's reading."""

    def __init__(self, now: Callable[[], datetime], answer_within: float = ANSWER_WITHIN) -> None:
        self.now = now
        self.answer_within = answer_within
        self.links: dict[str, tuple[tuple[Any, ...], ArcLink]] = {}
        self.health: dict[str, LinkHealth] = {}

    def link(self, school: str, config: dict[str, Any]) -> ArcLink:
        """The school's link, made again when its `arc:` entry changed."""
        fingerprint = tuple(sorted((k, str(v)) for k, v in config.items()))
        known = self.links.get(school)
        if known is not None and known[0] == fingerprint:
            return known[1]
        made = ArcLink(
            Endpoint.parse(str(config["url"])),
            ArcAccount(
                account=str(config["account"]),
                receiver=str(config.get("receiver") or "R0"),
                prefix=str(config.get("prefix") or "L0"),
                key=config.get("key"),
            ),
            now=self.now,
            answer_within=self.answer_within,
        )
        self.links[school] = (fingerprint, made)
        self.health.setdefault(school, LinkHealth(url=str(config["url"]))).url = str(config["url"])
        return made

    def forget(self, school: str) -> None:
        """The school no longer has an ARC."""
        self.health.pop(school, None)
        self.links.pop(school, None)

    def saw(self, school: str, exchange: Exchange) -> LinkHealth:
        """Count an exchange on the school's link; its health after it."""
        health = self.health[school]
        health.tries += 1
        if exchange.acknowledged:
            health.acks += 1
            health.ok_at = self.now()
            health.failing_since, health.error = None, None
        else:
            health.error = exchange.describe()
            if health.failing_since is None:
                health.failing_since = self.now()
        return health

    def problems(self) -> list[str]:
        return [
            f"arc: {school}'s alarm receiving centre ({h.url}) has not acknowledged since "
            f"{h.failing_since:%H:%M:%S} UTC ({h.error})"
            for school, h in sorted(self.health.items())
            if h.failing_since is not None
        ]

    def report(self) -> dict[str, Any]:
        return {school: h.report() for school, h in sorted(self.health.items())}
