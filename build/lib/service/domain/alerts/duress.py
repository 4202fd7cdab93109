"""Duress: a safe word anywhere in a visitor's text, whatever channel it came by.

"If working as a pair agree a safe word or phrase to alert a colleague that you need
assistance or should leave. The same code word should be used if you contact school to
alert them that you are in danger and need support." (policy 002, Roselyn House)

One rule for every channel (a text by SMS, a message from the phone app over MQTT): the
staff member's own safe word and the safe word agreed for their current visit are both
looked for; every occurrence of either becomes `[redacted]` before anything is stored, and
finding one is duress (a silent alert: nothing the visitor's phone sees may differ).

Pure: the text and the stored hashes in, a verdict out; no store, no clock. Checking is
slow on purpose (PBKDF2), so callers fetch hashes only for texts, never for heartbeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[redacted]"
MAX_SAFE_WORD_WORDS = 4
"""Safe words are a word or a short phrase; runs of up to this many words are checked."""

_WORD = re.compile(r"\w+")
_PBKDF2 = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


@dataclass(frozen=True)
class Screened:
    """A text as it may be stored (every safe word masked) and whether one was in it."""

    text: str
    duress: bool


def detect_duress(text: str, safe_word_hashes: Iterable[str | None]) -> Screened:
    """The text with every occurrence of any of the candidate safe words (the staff
    member's, the current visit's) replaced by `[redacted]`, and whether there was one.

    Every candidate is checked even after a match, so neither word is ever kept in clear;
    a hash given twice (a visit that took the staff member's word) is checked once."""
    duress = False
    for safe_word_hash in dict.fromkeys(h for h in safe_word_hashes if h):
        text, found = redact_safe_word(text, safe_word_hash)
        duress = duress or found
    return Screened(text, duress)


def normalise_safe_word(word: str) -> str:
    """Case and punctuation do not matter: 'Red-Kite!' is the safe word 'red kite'."""
    return " ".join(re.sub(r"[^\w]+", " ", word.casefold()).split())


def pbkdf2_matches(clear: str, hashed: str) -> bool:
    """Whether `clear` is what a Mosquitto-format PBKDF2-SHA512 hash (`$7$n$salt$hash`) holds."""
    match = _PBKDF2.match(hashed)
    if not match:
        return False
    iterations, salt, digest = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    candidate = hashlib.pbkdf2_hmac("sha512", clear.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def contains_safe_word(text: str, safe_word_hash: str | None) -> bool:
    """True when the safe word appears anywhere in `text`, in any case or punctuation
    (`normalise_safe_word` applied to every run of consecutive words)."""
    if not safe_word_hash or not text:
        return False
    return bool(_safe_word_runs(text, safe_word_hash))


def redact_safe_word(text: str, safe_word_hash: str | None) -> tuple[str, bool]:
    """The text with every occurrence of one safe word replaced by `[redacted]`, and
    whether there was one."""
    if not safe_word_hash or not text:
        return text, False
    spans = _safe_word_runs(text, safe_word_hash)
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text, bool(spans)


def _run_lengths(safe_word_hash: str) -> tuple[list[int], str]:
    """Which run lengths to try, and the PBKDF2 hash itself. `N$<pbkdf2>` (as
    `service.adapters.secrets.hash_safe_word` writes) names the safe word's word count; a bare hash
    tries all."""
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
                verdicts[candidate] = pbkdf2_matches(candidate, digest)
            if verdicts[candidate]:
                spans.append((words[i][0], words[i + n - 1][1]))
                i += n
                break
        else:
            i += 1
    return spans
