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
SAFE_WORD_ITERATIONS = 5_000
"""Per word-window checked in a text; a 30-word SMS costs ~30 checks of ~4 ms."""


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
    """`N$<pbkdf2>`: N, the number of words, says which word windows of a text to check."""
    normal = normalise_safe_word(word)
    return f"{len(normal.split())}${pbkdf2_hash(normal, SAFE_WORD_ITERATIONS)}"


def verify_safe_word(word: str, hashed: str) -> bool:
    _, _, digest = hashed.partition("$")
    return pbkdf2_verify(normalise_safe_word(word), digest)


def find_safe_word(text: str, hashed: str | None) -> tuple[int, int] | None:
    """Where the safe word stands in `text`, as (first word, word count), or None.

    The text is compared word window by word window against the hash: the safe
    word itself is never needed in clear.
    """
    if not hashed or "$" not in hashed:
        return None
    count_text, _, digest = hashed.partition("$")
    count = int(count_text) if count_text.isdigit() else 1
    words = normalise_safe_word(text).split()
    for start in range(len(words) - count + 1):
        if pbkdf2_verify(" ".join(words[start : start + count]), digest):
            return start, count
    return None


def redact_safe_word(text: str, hashed: str | None) -> tuple[str, bool]:
    """The text with the safe word replaced, and whether it was there. Words are
    re-joined from the normalised text when a match is found, so the stored text
    keeps its meaning but not the word."""
    found = find_safe_word(text, hashed)
    if found is None:
        return text, False
    start, count = found
    words = normalise_safe_word(text).split()
    words[start : start + count] = ["[safe word]"]
    return " ".join(words), True


def hash_device_secret(secret: str) -> str:
    return pbkdf2_hash(secret, MOSQUITTO_ITERATIONS)


def new_api_token() -> str:
    return "lw_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is the right lookup key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
