"""Signing in to the console: passwords checked against argon2 hashes, sessions recorded.

The cookie carries a random secret; the store keeps only its hash (as the
session's id). The CSRF token is derived from the secret, so a page that can
read it must have been served to the holder of the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import AggregateNotFoundError

from service.adapters import passwords
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.people.access import Principal
from service.domain.people.directory import User
from service.domain.people.sessions import SESSION_LIFETIME, ConsoleSession, session_id

_HASHER = PasswordHasher()
# Checked when the user is unknown or has no password, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


@dataclass(frozen=True)
class SignedIn:
    token: str
    principal: Principal


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """What every unsafe request made with this session must echo in X-CSRF-Token."""
    return hashlib.sha256(b"lonewatch-csrf\x00" + token.encode("utf-8")).hexdigest()


def _user(app: UnitOfWork, username: str) -> User | None:
    try:
        found: Any = app.repository.get(ids.user_id(username))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, User) else None


def sign_in(app: UnitOfWork, username: str, password: str, client: str) -> SignedIn | None:
    """A new session for a right password; None (and nothing recorded) otherwise."""
    user = _user(app, username) if username else None
    stored = user.password_hash if user is not None else None
    try:
        right = passwords.verify(stored or _DUMMY_HASH, password)  # on one thread
    except (VerificationError, InvalidHashError):
        return None
    if not right:
        return None
    if user is None or stored is None or user.disabled:
        return None
    token = "lws_" + secrets.token_urlsafe(32)
    now = app.clock.now()
    app.save(
        ConsoleSession(
            digest=digest(token),
            username=user.username,
            role=user.role.value,
            school=user.school,
            client=client[:200],
            expires_at=now + SESSION_LIFETIME,
            timestamp=now,
        )
    )
    return SignedIn(token, Principal(user.username, user.school, user.role))


def _session(app: UnitOfWork, token: str) -> ConsoleSession | None:
    try:
        found: Any = app.repository.get(session_id(digest(token)))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, ConsoleSession) else None


def principal_for_session(app: UnitOfWork, token: str) -> Principal | None:
    """The person behind a live session, with their role and school as they stand now."""
    session = _session(app, token)
    if session is None or not session.is_live(app.clock.now()):
        return None
    user = _user(app, session.username)
    if user is None or not user.session_counts(session.created_on):
        return None  # disabled, or its password reset, since the session began
    return Principal(user.username, user.school, user.role)


def sign_out(app: UnitOfWork, token: str, reason: str = "signed out") -> None:
    session = _session(app, token)
    if session is not None and session.end(reason=reason, timestamp=app.clock.now()):
        app.save(session)
