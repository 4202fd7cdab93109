"""The notifier port: how the escalation side sends a message to a person.

Adapters: `console_notifier.ConsoleNotifier` (no Twilio settings) and
`twilio_notifier.TwilioNotifier` (the real `twilio` library).
"""

from __future__ import annotations

from typing import Protocol

REFUSED_FOR_GOOD: dict[int, str] = {
    21211: "not a valid phone number",
    21217: "not a valid phone number",
    21401: "not a valid phone number",
    21407: "a number this account may not reach",
    21408: "a country this account may not reach",
    21610: "unsubscribed (STOP)",
    21612: "not reachable from our number",
    21614: "not a mobile number (cannot take texts)",
    13223: "not a valid number to call",
    13224: "not a valid number to call",
}
"""Twilio error codes that refuse a number for good: asking again gets the same answer, so the
ladder stops asking that channel and tries another (or the next tier) at once."""


class NotificationError(Exception):
    """Sending failed. `retryable` says whether the same request may succeed later;
    `permanent` that the provider refuses this number on this channel for good (`code`)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        permanent: bool = False,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable and not permanent
        self.permanent = permanent
        self.code = code

    @property
    def refusal(self) -> str:
        """The refusal in words a person can act on: `number refused: unsubscribed (STOP) — 21610`."""
        words = REFUSED_FOR_GOOD.get(self.code or 0, "refused by the provider")
        return f"number refused: {words}" + (f" — {self.code}" if self.code else "")


def refusal_for(code: int | None) -> bool:
    """Whether a provider error code refuses the number for good."""
    return code in REFUSED_FOR_GOOD


class Notifier(Protocol):
    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        """Send one SMS and return the provider's id for it.

        `key` is the notification's idempotency key (its id): adapters log it and
        may use it to reconcile. Raises NotificationError; never blocks forever.
        """
        ...

    async def place_call(self, *, to: str, say: str, key: str) -> str:
        """Ring `to` with an alert that asks for a key press to take it; return the call's id.

        Only a key press acknowledges (reported through the voice webhook, not here).
        Raises NotificationError; never blocks forever.
        """
        ...

    async def aclose(self) -> None: ...
