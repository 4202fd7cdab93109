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


def hash_device_secret(secret: str) -> str:
    return pbkdf2_hash(secret, MOSQUITTO_ITERATIONS)


def new_api_token() -> str:
    return "lw_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is the right lookup key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- safe words in free text ------------------------------------------------------

MAX_SAFE_WORD_WORDS = 4
"""Safe words are a word or a short phrase; runs of up to this many words are checked."""

_WORD = re.compile(r"\w+")
REDACTED = "[redacted]"


def _run_lengths(safe_word_hash: str) -> tuple[list[int], str]:
    """Which run lengths to try, and the PBKDF2 hash itself. `N$<pbkdf2>` (as
    `hash_safe_word` writes) names the safe word's word count; a bare hash tries all."""
    count, sep, digest = safe_word_hash.partition("$")
    if sep and count.isdigit():
        return [int(count)], digest
    return list(range(MAX_SAFE_WORD_WORDS, 0, -1)), safe_word_hash


def _safe_word_runs(text: str, safe_word_hash: str) -> list[tuple[int, int]]:
    """Character spans of every run of consecutive words that, normalised, is the safe word.

    Each distinct run is hashed once (PBKDF2 is slow on purpose), and matches do not
    overlap: the earliest, longest-first run wins.
    """
    lengths, digest = _run_lengths(safe_word_hash)
    words = [(m.start(), m.end(), m.group().casefold()) for m in _WORD.finditer(text)]
    verdicts: dict[str, bool] = {}
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for n in lengths:
            if i + n > len(words):
                continue
            candidate = " ".join(w for _, _, w in words[i : i + n])
            if candidate not in verdicts:
                verdicts[candidate] = pbkdf2_verify(candidate, digest)
            if verdicts[candidate]:
                spans.append((words[i][0], words[i + n - 1][1]))
                i += n
                break
        else:
            i += 1
    return spans


def contains_safe_word(text: str, safe_word_hash: str | None) -> bool:
    """True when the staff member's safe word appears anywhere in `text`, in any case or
    punctuation (`normalise_safe_word` applied to every run of consecutive words)."""
    if not safe_word_hash or not text:
        return False
    return bool(_safe_word_runs(text, safe_word_hash))


def redact_safe_word(text: str, safe_word_hash: str | None) -> tuple[str, bool]:
    """The text with every occurrence of the safe word replaced by `[redacted]`, and
    whether there was one: a text is never recorded with the safe word in clear."""
    if not safe_word_hash or not text:
        return text, False
    spans = _safe_word_runs(text, safe_word_hash)
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text, bool(spans)
