"""Hashing of safe words, device secrets and tokens: never stored, logged or shown in clear.

Finding a safe word in a text (duress) is a domain rule: service/domain/alerts/duress.py.

Device secrets use Mosquitto's own PBKDF2-SHA512 format (`$7$iterations$salt$hash`),
so a Mosquitto password file can be written straight from the directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from service.domain.alerts.duress import (
    REDACTED,
    contains_safe_word,
    normalise_safe_word,
    pbkdf2_matches,
    redact_safe_word,
)

# Re-exported for callers that hash and check in one place.
__all__ = ["REDACTED", "contains_safe_word", "normalise_safe_word", "redact_safe_word"]

MOSQUITTO_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the broker reads any count
SAFE_WORD_ITERATIONS = 5_000
"""Per word-window checked in a text; a 30-word SMS costs ~30 checks of ~4 ms."""


def pbkdf2_hash(clear: str, iterations: int) -> str:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", clear.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


pbkdf2_verify = pbkdf2_matches
"""One PBKDF2 check for device secrets and safe words (service.domain.alerts.duress holds it)."""


def hash_safe_word(word: str) -> str:
    """`N$<pbkdf2>`: N, the number of words, says which word windows of a text to check."""
    normal = normalise_safe_word(word)
    return f"{len(normal.split())}${pbkdf2_hash(normal, SAFE_WORD_ITERATIONS)}"


def verify_safe_word(word: str, hashed: str) -> bool:
    _, _, digest = hashed.partition("$")
    return pbkdf2_verify(normalise_safe_word(word), digest)


def hash_device_secret(secret: str) -> str:
    return pbkdf2_hash(secret, MOSQUITTO_ITERATIONS)


def new_api_token() -> str:
    return "lw_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is the right lookup key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
