"""Other systems that send us device readings: their tokens and their names for our devices.

Traccar posts events and positions with a bearer token made for it (`lonewatch token
create --integration traccar`); OwnTracks phones publish on their own topics. Both name a
device their own way (Traccar's `uniqueId`, the OwnTracks base topic), which the
directory maps to ours (INTERFACES.md section 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from service.adapters import secrets
from service.application.lonewatch import Lonewatch
from service.domain import ids
from service.domain.errors import DomainError
from service.domain.people.directory import DEVICE_SOURCES_KEY, ApiToken, DeviceSources

INTEGRATIONS: Final = ("traccar",)
"""Systems a token can be made for."""
_HOLDER_PREFIX: Final = "integration:"
"""An integration token's holder: no user is named so (usernames have no colon), so such a
token opens nothing under /api/v1."""

Source = Literal["traccar", "owntracks"]


@dataclass(frozen=True)
class Grant:
    """What a valid bearer token is: a person's (`integration` None) or an integration's."""

    integration: str | None


def issue_integration_token(app: Lonewatch, integration: str, label: str = "cli") -> str:
    if integration not in INTEGRATIONS:
        raise DomainError(
            f"no integration {integration!r}: tokens are made for {', '.join(INTEGRATIONS)}"
        )
    token = secrets.new_api_token()
    app.save(
        ApiToken(
            digest=secrets.token_digest(token),
            username=_HOLDER_PREFIX + integration,
            label=label,
            timestamp=app.clock.now(),
        )
    )
    return token


def grant_for_token(app: Lonewatch, token: str) -> Grant | None:
    """None for a token never issued or revoked."""
    grant = app.load_optional(ids.token_id(secrets.token_digest(token)), ApiToken)
    if grant is None or grant.revoked:
        return None
    if grant.username.startswith(_HOLDER_PREFIX):
        return Grant(integration=grant.username.removeprefix(_HOLDER_PREFIX))
    return Grant(integration=None) if app.principal_for_token(token) is not None else None


def device_for(app: Lonewatch, source: Source, name: str) -> str | None:
    """Our device id for another system's name of it (directory: `traccar_unique_id`,
    `owntracks`); None when the directory has no such device."""
    sources = app.load_optional(ids.device_sources_id(DEVICE_SOURCES_KEY), DeviceSources)
    return sources.device_for(source, name) if sources is not None else None


def owntracks_topics(app: Lonewatch) -> dict[str, str]:
    """Every OwnTracks base topic in the directory, with its device."""
    sources = app.load_optional(ids.device_sources_id(DEVICE_SOURCES_KEY), DeviceSources)
    return sources.names("owntracks") if sources is not None else {}
