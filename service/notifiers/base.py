"""The notifier port: how the escalation side sends a message to a person.

Adapters: `console_notifier.ConsoleNotifier` (no Twilio settings) and
`twilio_notifier.TwilioNotifier` (the real `twilio` library).
"""

from __future__ import annotations

from typing import Protocol


class NotificationError(Exception):
    """Sending failed. `retryable` says whether the same request may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


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
