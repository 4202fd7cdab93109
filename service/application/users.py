"""Console users managed by an admin: invited, their role changed, their password reset,
disabled and enabled again. Each change is an event on the `User` (so the audit trail
shows who did it and when) and counts at once: sign-in, sessions and tokens all read
the user as they stand (service/application/sessions.py, credentials.py).

An invitation or a reset gives a one-time link to choose a password; only its digest
is stored, and it works once, for `SET_PASSWORD_LINK_LIFETIME`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from service.adapters.secrets import token_digest
from service.adapters.stored_topics import MOVED_MODULES
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.errors import DomainError, Forbidden, InvalidTransition, NotFound
from service.domain.people.access import Principal, can_handle_alerts
from service.domain.people.accounts import (
    SET_PASSWORD_LINK_LIFETIME,
    can_manage_users,
    own_account_refusal,
    password_problem,
    school_problem,
    username_problem,
)
from service.domain.people.directory import Role, School, User
from service.domain.phone_numbers import phone_problem

PAGE = 1000


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: str
    school: str | None
    disabled: bool
    has_password: bool
    link_pending: bool
    """A set-password link was given and not used yet."""
    in_directory: bool
    """The directory file lists this user (else: invited in the console)."""
    since: datetime
    phone: str | None = None
    """Their mobile, which a handover to them is texted to (docs/escalation.md)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "school": self.school,
            "disabled": self.disabled,
            "has_password": self.has_password,
            "link_pending": self.link_pending,
            "in_directory": self.in_directory,
            "since": self.since,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class PasswordLink:
    """Shown once to the admin, who passes it on; never stored in clear."""

    username: str
    code: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return f"/console/welcome?user={self.username}&code={self.code}"


def _info(user: User, now: datetime) -> UserInfo:
    return UserInfo(
        username=user.username,
        role=user.role.value,
        school=user.school,
        disabled=user.disabled,
        has_password=user.password_hash is not None,
        link_pending=_link_live(user, now),
        in_directory=user.listed is not None,
        since=user.created_on,
        phone=user.phone,
    )


def _link_live(user: User, now: datetime) -> bool:
    expires = user.password_link_expires
    return user.password_link is not None and expires is not None and now < expires


def _admin(by: Principal) -> None:
    if not can_manage_users(by):
        raise Forbidden(f"a {by.role.value} cannot manage users: ask an admin")


def _user(uow: UnitOfWork, username: str) -> User:
    return uow.load(ids.user_id(username), User, f"user {username[:64]!r}")


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise DomainError(f"role must be one of: {choices} (got {str(value)[:40]!r})") from None


def _placed(uow: UnitOfWork, role: Role, school: str | None) -> str | None:
    """The school as recorded: checked against the directory; an admin may have none."""
    school = school or None
    if (problem := school_problem(role, school)) is not None:
        raise DomainError(problem)
    if school is not None and not uow.exists(School.create_id(school)):  # type: ignore[attr-defined]
        raise NotFound(f"no school {school[:64]!r} in the directory")
    return school


def _phone(value: str | None) -> str:
    """A mobile as recorded ("" for none), by the directory file's own rule."""
    value = (value or "").strip()
    if value and (problem := phone_problem(value, "mobile")) is not None:
        raise DomainError(problem)
    return value


_USER_EVENTS = (
    "Registered",
    "Updated",
    "Changed",
    "Disabled",
    "Enabled",
    "PasswordLinkIssued",
    "PasswordSet",
)


def _user_topics() -> list[str]:
    """Every topic a `User` event is stored under: today's, and those written before its
    module moved (service/adapters/stored_topics.py)."""
    module = User.__module__
    modules = [module, *(old for old, new in MOVED_MODULES.items() if new == module)]
    return [f"{m}:User.{name}" for m in modules for name in _USER_EVENTS]


def all_users(uow: UnitOfWork) -> list[User]:
    """Every user, listed or invited, in the order registered: their events read from the
    store in one pass (users are tens, a few hundred in a trust; one load each was ~2 ms
    apiece on PostgreSQL), so the list is never behind."""
    found: dict[UUID, User] = {}
    topics = _user_topics()
    start = 1
    while True:
        page = uow.recorder.select_notifications(start=start, limit=PAGE, topics=topics)
        for notification in page:
            event: Any = uow.mapper.to_domain_event(notification)
            found[event.originator_id] = event.mutate(found.get(event.originator_id))
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    return list(found.values())


def with_mobile(uow: UnitOfWork, number: str) -> list[Principal]:
    """The users whose recorded mobile (the directory file's `phone`, or the one an admin
    gave on the Users page) is `number`, as they stand now, by username: a text from it
    is theirs. Only those who take alerts and are not disabled, since the one thing such
    a text may do is take an alert; a number that is not in international form (the rule
    every recorded mobile passed) is nobody's."""
    if phone_problem(number) is not None:
        return []
    found = (
        Principal(u.username, u.school, u.role)
        for u in all_users(uow)
        if u.phone == number and not u.disabled
    )
    return sorted((p for p in found if can_handle_alerts(p)), key=lambda p: p.username)


def list_users(uow: UnitOfWork, by: Principal) -> list[UserInfo]:
    """Every user, by username, for an admin."""
    _admin(by)
    now = uow.clock.now()
    return sorted((_info(u, now) for u in all_users(uow)), key=lambda u: u.username)


def _new_link(uow: UnitOfWork, user: User, by: Principal, *, reset: bool) -> PasswordLink:
    code = "lw_" + secrets.token_urlsafe(32)  # token-shaped: masked in any log line (logs.py)
    now = uow.clock.now()
    expires = now + SET_PASSWORD_LINK_LIFETIME
    user.issue_password_link(
        by=by.actor, digest=token_digest(code), expires_at=expires, reset=reset, timestamp=now
    )
    return PasswordLink(user.username, code, expires)


def invite(
    uow: UnitOfWork,
    by: Principal,
    username: str,
    role: object,
    school: str | None,
    phone: str | None = None,
) -> PasswordLink:
    """A new user (with their mobile, if given), with a one-time link to choose their
    password."""
    _admin(by)
    mobile = _phone(phone)
    username = username.strip()
    if (problem := username_problem(username)) is not None:
        raise DomainError(problem)
    chosen = _role(role)
    placed = _placed(uow, chosen, school)
    if uow.exists(ids.user_id(username)):
        raise InvalidTransition(f"there is already a user {username!r}")
    user = User(
        username=username,
        school=placed,
        role=chosen.value,
        timestamp=uow.clock.now(),
        invited_by=by.actor,
        phone=mobile or None,
    )
    link = _new_link(uow, user, by, reset=False)
    try:
        uow.save(user)
    except IntegrityError:  # invited by another admin at the same moment
        raise InvalidTransition(f"there is already a user {username!r}") from None
    return link


def change_role(
    uow: UnitOfWork, by: Principal, username: str, role: object, school: str | None
) -> UserInfo:
    _admin(by)
    chosen = _role(role)
    if (refusal := own_account_refusal(by, username, role=chosen)) is not None:
        raise Forbidden(refusal)

    def attempt() -> list[Aggregate]:
        user = _user(uow, username)
        placed = _placed(uow, chosen, school)
        if (user.role, user.school) == (chosen, placed):
            return []
        user.change(by=by.actor, school=placed, role=chosen.value, timestamp=uow.clock.now())
        return [user]

    uow.retry_on_conflict(attempt)
    return _info(_user(uow, username), uow.clock.now())


def set_phone(uow: UnitOfWork, by: Principal, username: str, phone: str | None) -> UserInfo:
    """Give the user a mobile (a handover to them is texted to it), change or remove it:
    a `Changed` event like a role change, so the audit trail shows who did it. It stands
    at the file's next import unless the user's own entry in the file changed."""
    _admin(by)
    mobile = _phone(phone)

    def attempt() -> list[Aggregate]:
        user = _user(uow, username)
        if (user.phone or "") == mobile:
            return []
        role, school, now = user.role.value, user.school, uow.clock.now()
        user.change(by=by.actor, school=school, role=role, timestamp=now, phone=mobile)
        return [user]

    uow.retry_on_conflict(attempt)
    return _info(_user(uow, username), uow.clock.now())


def reset_password(uow: UnitOfWork, by: Principal, username: str) -> PasswordLink:
    """The old password and every session end now; the link chooses a new password."""
    _admin(by)
    if (refusal := own_account_refusal(by, username)) is not None:
        raise Forbidden(refusal)
    links: list[PasswordLink] = []

    def attempt() -> list[Aggregate]:
        user = _user(uow, username)
        links[:] = [_new_link(uow, user, by, reset=True)]
        return [user]

    uow.retry_on_conflict(attempt)
    return links[0]


def set_disabled(
    uow: UnitOfWork, by: Principal, username: str, disabled: bool, reason: str = ""
) -> UserInfo:
    """Disable (no sign-in, session or token works) or enable again; again is a no-op."""
    _admin(by)
    if (refusal := own_account_refusal(by, username)) is not None:
        raise Forbidden(refusal)

    def attempt() -> list[Aggregate]:
        user = _user(uow, username)
        if user.disabled == disabled:
            return []
        now = uow.clock.now()
        if disabled:
            user.disable(by=by.actor, reason=reason.strip()[:500], timestamp=now)
        else:
            user.enable(by=by.actor, timestamp=now)
        return [user]

    uow.retry_on_conflict(attempt)
    return _info(_user(uow, username), uow.clock.now())


LINK_REFUSED = "this link is not valid any more: ask an admin for a new one"


def check_password_link(uow: UnitOfWork, username: str, code: str) -> None:
    """Refused (with one message for every reason) unless the link is the user's latest,
    unused and in time: checked before the password is hashed, so a guess costs no hash."""
    user = uow.load_optional(ids.user_id(username), User) if username else None
    digest = token_digest(code)
    if (
        user is None
        or user.disabled
        or user.password_link is None
        or not _link_live(user, uow.clock.now())
        or not hmac.compare_digest(user.password_link, digest)
    ):
        raise DomainError(LINK_REFUSED)


def set_password_with_link(uow: UnitOfWork, username: str, code: str, password_hash: str) -> None:
    """The link's owner chose a password: recorded, and the link used up."""

    def attempt() -> list[Aggregate]:
        check_password_link(uow, username, code)
        user = _user(uow, username)
        user.set_password(password_hash=password_hash, timestamp=uow.clock.now())
        return [user]

    uow.retry_on_conflict(attempt)


def checked_password(password: object) -> str:
    if not isinstance(password, str) or (problem := password_problem(password)) is not None:
        raise DomainError(problem if isinstance(password, str) else "send the password as text")
    return password
