"""Mosquitto's password file, written from the directory.

Device secrets are stored hashed in Mosquitto's own PBKDF2-SHA512 format
(`$7$101$salt$hash`, see service.adapters.secrets), so each line is `device_id:hash`
and no secret is ever seen in clear here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from service.adapters.secrets import hash_device_secret

GATEWAY_USER = "lonewatch-gateway"
"""The gateway's service account; deploy/mosquitto/lonewatch.acl names it."""

_USERNAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MOSQUITTO_HASH = re.compile(r"\$[67]\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+")


@dataclass(frozen=True)
class Account:
    username: str
    password_hash: str


def password_file(accounts: Iterable[Account]) -> str:
    """The lines of a Mosquitto password file, sorted; refuses a name or hash Mosquitto
    would misread (a ':' in a name, a hash in another format)."""
    lines = []
    for account in sorted(accounts, key=lambda a: a.username):
        if not _USERNAME.fullmatch(account.username):
            raise ValueError(
                f"broker username must be 1-64 of A-Z a-z 0-9 _ -: {account.username!r}"
            )
        if not _MOSQUITTO_HASH.fullmatch(account.password_hash):
            raise ValueError(f"the hash of {account.username!r} is not in Mosquitto's $7$ format")
        lines.append(f"{account.username}:{account.password_hash}\n")
    return "".join(lines)


def gateway_account(username: str, password: str) -> Account:
    return Account(username, hash_device_secret(password))
