"""Managing console users: who may, what a username and a password must be, and the
changes an admin may not make to their own account. Each rule a function a sentence long.

The `User` aggregate (directory.py) records the changes; the use cases
(service/application/users.py) ask these rules first.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from service.domain.people.access import Principal
from service.domain.people.directory import Role

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 1024
SET_PASSWORD_LINK_LIFETIME: Final = timedelta(days=3)
"""An invitation or a reset link works once, for three days: long enough for a weekend."""
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def can_manage_users(principal: Principal) -> bool:
    """Inviting, changing roles, resetting passwords and disabling users is for an admin."""
    return principal.role is Role.ADMIN


def username_problem(username: str) -> str | None:
    """A username is 2-64 lower-case letters, digits, dots, dashes or underscores
    (as the directory's: reception1, a.lead); None when it is one."""
    if _USERNAME.fullmatch(username):
        return None
    return (
        "a username is 2-64 characters: lower-case letters, digits, '.', '-' or '_', "
        f"starting with a letter or digit (got {username[:80]!r})"
    )


def password_problem(password: str) -> str | None:
    """At least ten characters (a phrase of three words is easier to remember and longer)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password is at most {MAX_PASSWORD_LENGTH} characters"
    return None


def school_problem(role: Role, school: str | None) -> str | None:
    """Everyone but an admin belongs to one school (an admin may too, or to none: all)."""
    if role is not Role.ADMIN and not school:
        article = "an" if role.value[0] in "aeiou" else "a"
        return f"{article} {role.value} belongs to a school: give its id"
    return None


def own_account_refusal(by: Principal, username: str, *, role: Role | None = None) -> str | None:
    """An admin may not disable their own account, reset its password here, or take the
    admin role from it: the console would be left without the person making the change."""
    if by.username != username:
        return None
    if role is None:
        return "you cannot do this to your own account: ask another admin"
    if role is not Role.ADMIN:
        return "you cannot take the admin role from your own account: ask another admin"
    return None
