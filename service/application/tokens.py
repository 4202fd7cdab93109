"""Bearer tokens listed and revoked (`lonewatch token list`, `lonewatch token revoke`).

A token is stored only as its hash (its id derives from the hash), so a token is named by
its id, or by the token itself when its holder hands it in. Listing walks the stored
events by topic: tokens are few, and this is an administrator's command, not a request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.utils import get_topic

from service.adapters import secrets
from service.application.lonewatch import Lonewatch
from service.domain import ids
from service.domain.errors import NotFound
from service.domain.people.directory import ApiToken

PAGE = 1000


@dataclass(frozen=True)
class TokenInfo:
    id: UUID
    username: str
    label: str
    issued_at: datetime
    revoked: bool


def _info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        username=token.username,
        label=token.label,
        issued_at=token.created_on,
        revoked=token.revoked,
    )


def list_tokens(app: Lonewatch) -> list[TokenInfo]:
    """Every token ever issued, oldest first, revoked ones included (marked)."""
    topic = get_topic(ApiToken.Issued)  # type: ignore[attr-defined]  # made by @event
    found: list[UUID] = []
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE, topics=[topic])
        found.extend(UUID(str(n.originator_id)) for n in page)
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    return [_info(app.load(token_id, ApiToken, "token")) for token_id in found]


def token_named(app: Lonewatch, name: str) -> UUID:
    """A token's id from its id (as `token list` shows it) or from the token itself."""
    try:
        return UUID(name)
    except ValueError:
        return ids.token_id(secrets.token_digest(name))


def revoke_token(app: Lonewatch, name: str, by: str) -> TokenInfo:
    """Revoke a token; again is a no-op. A running service stops accepting it within its
    token cache's lifetime (`api.TOKEN_CACHE_SECONDS`)."""

    def revoke() -> list[ApiToken]:
        token = app.load_optional(token_named(app, name), ApiToken)
        if token is None:
            raise NotFound("no such token: give its id from 'lonewatch token list', or the token")
        if token.revoked:
            return []
        token.revoke(by=by, timestamp=app.clock.now())
        return [token]

    app.retry_on_conflict(revoke)
    return _info(app.load(token_named(app, name), ApiToken, "token"))
