"""The notifier port without Twilio: each SMS and call is logged and kept for the console."""

from __future__ import annotations

import secrets
from collections import deque
from typing import Any

from service.clock import Clock, SystemClock
from service.logs import get_logger, masked_phone

log = get_logger(__name__)


class ConsoleNotifier:
    """Never fails; remembers the last `keep` messages, newest last."""

    def __init__(self, keep: int = 100, clock: Clock | None = None) -> None:
        self._sent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._calls: deque[dict[str, Any]] = deque(maxlen=keep)
        self._clock = clock or SystemClock()

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Dicts with id, to, body, key and sent_at (ISO 8601), oldest first."""
        return list(self._sent)

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        message_id = f"console-{secrets.token_hex(6)}"
        sent_at = self._clock.now().isoformat()
        self._sent.append(
            {"id": message_id, "to": to, "body": body, "key": key, "sent_at": sent_at}
        )
        # The body stays out of the log (it can name a pupil's reference): the console shows it.
        log.info(
            "notification_console", id=message_id, to=masked_phone(to), chars=len(body), key=key
        )
        return message_id

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Calls "placed": dicts with id, to, say, key and placed_at, oldest first. Nobody
        answers a console call, so it never acknowledges anything."""
        return list(self._calls)

    async def place_call(self, *, to: str, say: str, key: str) -> str:
        call_id = f"console-call-{secrets.token_hex(6)}"
        placed_at = self._clock.now().isoformat()
        self._calls.append(
            {"id": call_id, "to": to, "say": say, "key": key, "placed_at": placed_at}
        )
        log.info("call_console", id=call_id, to=masked_phone(to), chars=len(say), key=key)
        return call_id

    async def aclose(self) -> None:
        """Nothing to release."""
