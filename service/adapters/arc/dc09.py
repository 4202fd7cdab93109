"""SIA DC-09 frames: what Lonewatch sends an alarm receiving centre and how it reads the answer.

Pure (no I/O, no clock: the caller passes the instant and the padding), so every frame can
be checked against a real receiver's parser (tests use pysiaalarm's). The layout, from
ANSI/SIA DC-09:

    <LF> CRC(4 hex) 0LLL(length, hex) "ID" seq(4) Rrcvr Lpref #acct [data] [xdata]... _HH:MM:SS,MM-DD-YYYY <CR>

CRC and length cover everything from the first `"` up to the `<CR>`. With a key the part
after `[` is AES-CBC (zero IV) of `pad|#acct|data]...timestamp` in upper-case hex, the ID gets a
`*` (`*SIA-DCS`, `*NULL`), and the key's characters are the key bytes (AES-128/192/256),
as pysiaalarm and Home Assistant's SIA integration read it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LF, CR = "\n", "\r"
ZERO_IV = bytes(16)
PAD_ALPHABET = string.ascii_letters + string.digits
"""DC-09's pad characters: anything but `|`, `[` and `]`, which mark where the data starts."""
MAX_SEQUENCE = 9999
TIMESTAMP_FORMAT = "%H:%M:%S,%m-%d-%Y"

_ACCOUNT = re.compile(r"^[0-9A-F]{3,16}$")
_RECEIVER = re.compile(r"^R[0-9A-F]{1,6}$")
_PREFIX = re.compile(r"^L[0-9A-F]{1,6}$")
_KEY = re.compile(r"^[0-9A-Fa-f]{16}$|^[0-9A-Fa-f]{24}$|^[0-9A-Fa-f]{32}$")
_XDATA_TEXT = re.compile(r"[^ -~]|[\[\]|]")
"""What extended data may not hold: non-printing or non-ASCII characters, and the
brackets and bar that frame it."""


class FrameError(ValueError):
    """An account, code or extended field that a DC-09 frame cannot carry."""


class MessageType(StrEnum):
    SIA_DCS = "SIA-DCS"
    NULL = "NULL"


class Answer(StrEnum):
    ACK = "ACK"
    NAK = "NAK"
    DUH = "DUH"
    RSP = "RSP"


@dataclass(frozen=True)
class ArcAccount:
    """How a school is known to its ARC (the directory's `arc:` entry, less the URL)."""

    account: str
    receiver: str = "R0"
    prefix: str = "L0"
    key: str | None = None

    def __post_init__(self) -> None:
        problems = check_account(self.account, self.receiver, self.prefix, self.key)
        if problems:
            raise FrameError("; ".join(problems))

    @property
    def encrypted(self) -> bool:
        return self.key is not None


def check_account(account: str, receiver: str, prefix: str, key: str | None) -> list[str]:
    """Every way these settings cannot be framed, in words a school can fix (the one check,
    used by the directory reader and by `ArcAccount`)."""
    problems = []
    if not _ACCOUNT.match(account):
        problems.append(f"account {account!r} must be 3-16 hex digits (0-9, A-F)")
    if not _RECEIVER.match(receiver):
        problems.append(f"receiver {receiver!r} must be R and 1-6 hex digits, like R0")
    if not _PREFIX.match(prefix):
        problems.append(f"prefix {prefix!r} must be L and 1-6 hex digits, like L0")
    if key is not None and not _KEY.match(key):
        problems.append("key must be 16, 24 or 32 hex characters (AES-128, -192 or -256)")
    return problems


@dataclass(frozen=True)
class SiaEvent:
    """One SIA DCS event: `ri` the area (the device's zone), a two-letter code (`PA`),
    and extended data as (identifier, value) pairs, like ("X", "E0.5123")."""

    code: str
    zone: int = 1
    extended: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{2}", self.code):
            raise FrameError(f"event code {self.code!r} must be two capital letters, like PA")
        if not 0 <= self.zone <= 999:
            raise FrameError(f"zone {self.zone} must be 0-999")
        for identifier, value in self.extended:
            if not re.fullmatch(r"[A-Z]", identifier):
                raise FrameError(f"extended data id {identifier!r} must be one capital letter")
            if _XDATA_TEXT.search(value):
                raise FrameError(f"extended data {identifier} holds characters DC-09 cannot carry")


def xdata_text(text: str, limit: int = 64) -> str:
    """Text made fit for extended data: accents dropped (`Zoë` -> `Zoe`), anything else
    DC-09 cannot carry removed, cut to `limit` characters."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _XDATA_TEXT.sub("", plain)[:limit]


def location_xdata(lat: float, lon: float) -> tuple[tuple[str, str], ...]:
    """`[X…]` longitude and `[Y…]` latitude, as DC-09 writes them (`E0.51230`, `N51.53900`)."""
    return (
        ("X", f"{'E' if lon >= 0 else 'W'}{abs(lon):.5f}"),
        ("Y", f"{'N' if lat >= 0 else 'S'}{abs(lat):.5f}"),
    )


def crc16(text: str) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, initial 0), which DC-09 uses."""
    crc = 0
    for byte in text.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def next_sequence(sequence: int) -> int:
    """0001-9999, then 0001 again (0000 is what a receiver's NAK carries)."""
    return 1 if sequence >= MAX_SEQUENCE else sequence + 1


def timestamp(now: datetime) -> str:
    """`_HH:MM:SS,MM-DD-YYYY` in UTC: the receiver checks it against its own clock."""
    return "_" + now.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def encode(
    arc: ArcAccount,
    *,
    sequence: int,
    now: datetime,
    event: SiaEvent | None = None,
    pad: str = "",
) -> bytes:
    """One frame: an event (`SIA-DCS`) or, with `event=None`, a supervision poll (`NULL`).

    `pad` gives the encrypted frame's padding characters (as many as are needed are taken;
    the caller supplies random ones, tests fixed ones). A retry of the same message keeps
    its sequence number and takes a fresh timestamp."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise FrameError(f"sequence {sequence} must be 1-{MAX_SEQUENCE}")
    kind = MessageType.NULL if event is None else MessageType.SIA_DCS
    data = "" if event is None else f"#{arc.account}|Nri{event.zone}/{event.code}"
    xdata = "" if event is None else "".join(f"[{i}{v}]" for i, v in event.extended)
    tail = f"{data}]{xdata}{timestamp(now)}"  # a NULL's data is empty: `[]_time`
    if arc.key is None:
        body = f'"{kind}"{sequence:04d}{arc.receiver}{arc.prefix}#{arc.account}[{tail}'
    else:
        body = (
            f'"*{kind}"{sequence:04d}{arc.receiver}{arc.prefix}#{arc.account}['
            f"{encrypt(arc.key, tail, pad)}"
        )
    return f"{LF}{crc16(body):04X}{len(body):04X}{body}{CR}".encode("ascii")


def encrypt(key: str, tail: str, pad: str) -> str:
    """`pad|tail`, made whole AES blocks by the pad's length, encrypted, in hex. The data
    keeps its `#account|`, as in the clear (receivers read it with or without)."""
    need = 16 - (len(tail) + 1) % 16
    padding = (pad * (need // max(len(pad), 1) + 1))[:need] if pad else "0" * need
    if any(c not in PAD_ALPHABET for c in padding):
        raise FrameError("pad characters must be letters or digits")
    plain = f"{padding}|{tail}".encode("ascii")
    encryptor = Cipher(algorithms.AES(key.encode("ascii")), modes.CBC(ZERO_IV)).encryptor()
    return (encryptor.update(plain) + encryptor.finalize()).hex().upper()


def decrypt(key: str, hex_text: str) -> str:
    """The receiver's side of `encrypt` (for reading an encrypted answer)."""
    raw = bytes.fromhex(hex_text[: len(hex_text) - len(hex_text) % 32])
    decryptor = Cipher(algorithms.AES(key.encode("ascii")), modes.CBC(ZERO_IV)).decryptor()
    return (decryptor.update(raw) + decryptor.finalize()).decode("ascii", "replace")


# -- answers ------------------------------------------------------------------------------

_ANSWER = re.compile(
    r'(?P<crc>[0-9A-Fa-f]{4})(?P<length>[0-9A-Fa-f]{4})(?P<body>"(?P<star>\*)?(?P<kind>ACK|NAK|DUH|RSP)"'
    r"(?P<seq>\d{4})?(?P<rest>.*))$",
    re.S,
)
_STAMP = re.compile(r"_(\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4})")


@dataclass(frozen=True)
class Reply:
    """What a receiver answered. `sequence` is None when it sent none (a bare `"ACK"`);
    `receiver_time` is the receiver's clock where it gave it (a NAK must, per DC-09)."""

    answer: Answer
    sequence: int | None
    receiver_time: datetime | None
    crc_ok: bool | None
    """None: the answer had no CRC (a bare `"ACK"`)."""

    def confirms(self, sequence: int) -> bool:
        """An ACK for this message (an ACK that names another sequence answers an older try)."""
        return self.answer is Answer.ACK and self.sequence in (None, sequence)


def parse_reply(data: bytes, arc: ArcAccount) -> Reply | None:
    """The answer in `data`, or None if it is none we know. Lenient, as receivers differ in
    padding, extended data and even framing (pysiaalarm answers a bare `"ACK"` where it
    has no account): only the answer word and the sequence are relied on. The CRC is
    checked and reported, not required; a NAK's timestamp is read, decrypted if need be."""
    text = data.decode("ascii", "replace").strip("\r\n\x00 ")
    match = _ANSWER.search(text)
    if match is None:
        bare = re.fullmatch(r'"(ACK|NAK|DUH|RSP)"', text)
        if bare is None:
            return None
        return Reply(Answer(bare.group(1)), None, None, crc_ok=None)
    body = match.group("body")
    crc_ok = int(match.group("crc"), 16) == crc16(body)
    rest = match.group("rest")
    if match.group("star") and arc.key is not None and "[" in rest:
        hex_part = rest.split("[", 1)[1]
        if re.fullmatch(r"[0-9A-Fa-f]+", hex_part) and len(hex_part) >= 32:
            rest = decrypt(arc.key, hex_part)
    stamp = _STAMP.search(rest)
    receiver_time = None
    if stamp is not None:
        try:
            receiver_time = datetime.strptime(stamp.group(1), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            receiver_time = None
    seq = match.group("seq")
    return Reply(Answer(match.group("kind")), int(seq) if seq else None, receiver_time, crc_ok)
