"""Rate limits per contact and channel: how the ladder keeps going without becoming noise.

Why these figures: docs/escalation.md. Plain values and functions, no clock: the
ladder (service/domain/alerts/ladder.py) asks them about the times its steps were due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.domain.alerts.notifications import Channel


@dataclass(frozen=True)
class Window:
    """At most `count` messages within any `within` (a sliding window)."""

    count: int
    within: timedelta


@dataclass(frozen=True)
class Limits:
    """How often one contact is messaged on one channel about one alert (docs/escalation.md).

    Reminders back off: after the n-th message the next waits `renotify_every * 2**(n-1)`,
    capped at `backoff_cap` (1, 2, 4, 8, 8, … minutes with the usual one-minute policy), and
    never less than `min_gap`. The windows are GoAlert's measured carrier limits, kept as
    ceilings: a sending number the carriers block silences every alarm of every school. A
    contact's first message on a channel (a new tier's word, a fallback) is never held back.
    """

    min_gap: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(minutes=8)
    windows: Mapping[Channel, tuple[Window, ...]] = field(
        default_factory=lambda: {
            Channel.SMS: (Window(5, timedelta(minutes=15)), Window(11, timedelta(hours=1))),
            Channel.VOICE: (Window(3, timedelta(minutes=15)), Window(7, timedelta(hours=1))),
        }
    )

    def gap(self, sent: int, renotify_every: timedelta) -> timedelta:
        """The wait after the `sent`-th message before the next reminder (sent >= 1)."""
        backoff = renotify_every * (1 << min(sent - 1, 16))
        return max(self.min_gap, min(backoff, max(self.backoff_cap, renotify_every)))

    def next_allowed(
        self, channel: Channel, sent_at: Sequence[datetime], renotify_every: timedelta
    ) -> datetime | None:
        """The earliest moment another message may go (None: nothing sent yet, so at once)."""
        if not sent_at:
            return None
        times = sorted(sent_at)
        allowed = times[-1] + self.gap(len(times), renotify_every)
        for window in self.windows.get(channel, ()):
            if len(times) >= window.count:
                # The window (t - within, t] must hold fewer than `count` earlier messages.
                allowed = max(allowed, times[-window.count] + window.within)
        return allowed

    def allows(
        self, channel: Channel, sent_at: Sequence[datetime], at: datetime, every: timedelta
    ) -> bool:
        allowed = self.next_allowed(channel, sent_at, every)
        return allowed is None or at >= allowed


LIMITS = Limits()
