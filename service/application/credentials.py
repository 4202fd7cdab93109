"""API tokens and console passwords: issuing them, and who a token speaks for.

Only digests are stored (service.adapters.secrets); a revoked token names nobody.
"""

from __future__ import annotations

from service.adapters import secrets
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.errors import NotFound
from service.domain.people.access import Principal
from service.domain.people.directory import ApiToken, User


def issue_token(uow: UnitOfWork, username: str, label: str = "cli") -> str:
    """A new token for a user the directory lists; the clear token is shown once, here."""
    user = uow.load_optional(ids.user_id(username), User)
    if user is None:
        raise NotFound(
            f"no user {username!r}: add them under 'users:' in the directory file and import it"
        )
    if user.disabled:
        raise NotFound(f"user {username!r} is disabled: an admin enables them on the Users page")
    token = secrets.new_api_token()
    uow.save(
        ApiToken(
            digest=secrets.token_digest(token),
            username=username,
            label=label,
            timestamp=uow.clock.now(),
        )
    )
    return token


def set_password(uow: UnitOfWork, username: str, password_hash: str) -> None:
    user = uow.load(ids.user_id(username), User, f"user {username!r}")
    user.set_password(password_hash=password_hash, timestamp=uow.clock.now())
    uow.save(user)


def principal_for_token(uow: UnitOfWork, token: str) -> Principal | None:
    grant = uow.load_optional(ids.token_id(secrets.token_digest(token)), ApiToken)
    if grant is None or grant.revoked:
        return None
    user = uow.load_optional(ids.user_id(grant.username), User)
    if user is None or user.disabled:
        return None
    return Principal(username=user.username, school=user.school, role=user.role)
