"""Hashing of safe words, device secrets and tokens: never stored, logged or shown in clear.

Device secrets use Mosquitto's own PBKDF2-SHA512 format (`$7$iterations$salt$hash`),
so a Mosquitto password file can be written straight from the directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets

_PBKDF2 = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")
MOSQUITTO_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the broker reads any count
SAFE_WORD_ITERATIONS = 20_000


def pbkdf2_hash(clear: str, iterations: int) -> str:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", clear.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def pbkdf2_verify(clear: str, hashed: str) -> bool:
    match = _PBKDF2.match(hashed)
    if not match:
        return False
    iterations, salt, digest = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    candidate = hashlib.pbkdf2_hmac("sha512", clear.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def normalise_safe_word(word: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", word.casefold()).split())


def hash_safe_word(word: str) -> str:
    return pbkdf2_hash(normalise_safe_word(word), SAFE_WORD_ITERATIONS)


def hash_device_secret(secret: str) -> str:
    return pbkdf2_hash(secret, MOSQUITTO_ITERATIONS)


def new_api_token() -> str:
    return "lw_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is the right lookup key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
