"""Signed tree heads: Ed25519 over (size, time, root), with a key kept outside the database.

`LW_SIGNING_KEY` is the base64 of a 32-byte Ed25519 private key (`lonewatch signing-key
new` makes one). Someone who can write the database but does not hold the key cannot
make a head for a record they changed; anyone with the public key can check a head
offline. Each head names its key (`key_id`, the first 16 hex digits of the SHA-256 of
the public key), so heads signed before a key rotation still verify under the old public
key (docs/security.md, "Key rotation").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service.config import ConfigError

HEAD_CONTEXT = b"lonewatch tree head v1\n"
"""Prefixed to what is signed, so a head's signature can never be taken for another message's."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{what} is not base64: {exc}") from exc


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = _unb64(text, "a public key")
    if len(raw) != 32:
        raise ConfigError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_setting(cls, text: str) -> SigningKey:
        raw = _unb64(text, "LW_SIGNING_KEY")
        if len(raw) != 32:
            raise ConfigError(
                f"LW_SIGNING_KEY must be the base64 of 32 bytes (an Ed25519 private key), "
                f"got {len(raw)} bytes; make one with `lonewatch signing-key new`"
            )
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def setting(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return _b64(self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @property
    def public(self) -> bytes:
        return public_key_bytes(self.private.public_key())

    def sign(self, size: int, root: bytes, timestamp_ms: int) -> SignedHead:
        public = self.public
        signature = self.private.sign(signed_message(size, root, timestamp_ms))
        return SignedHead(size, root, timestamp_ms, key_id(public), public, signature)


def signed_message(size: int, root: bytes, timestamp_ms: int) -> bytes:
    return HEAD_CONTEXT + size.to_bytes(8, "big") + timestamp_ms.to_bytes(8, "big") + root


class HeadError(ValueError):
    """A head's signature does not check, or its key is not one the verifier trusts."""


@dataclass(frozen=True)
class SignedHead:
    """A tree head as CT's signed tree head: the tree's size and root, when, and by which key."""

    size: int
    root: bytes
    timestamp_ms: int
    key_id: str
    public_key: bytes
    signature: bytes

    def check(self, trusted: Iterable[bytes] | None) -> str:
        """Raise HeadError unless the signature holds; say under which key. With no trusted
        keys given, the head's own key is used, and the answer says it was not pinned."""
        trusted_keys = list(trusted) if trusted is not None else None
        if trusted_keys is not None and self.public_key not in trusted_keys:
            raise HeadError(
                f"the head of size {self.size} is signed by key {self.key_id}, "
                "which is not one of the trusted public keys"
            )
        if key_id(self.public_key) != self.key_id:
            raise HeadError(f"the head of size {self.size} names a key that is not its own")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                self.signature, signed_message(self.size, self.root, self.timestamp_ms)
            )
        except (InvalidSignature, ValueError) as exc:
            raise HeadError(
                f"the signature on the head of size {self.size} does not verify: the head "
                "was altered or not made with the signing key"
            ) from exc
        pinned = (
            "" if trusted_keys is not None else " (its own key: not checked against a trusted one)"
        )
        return f"key {self.key_id}{pinned}"

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.size,
            "root_hash": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id,
            "public_key": _b64(self.public_key),
            "signature": _b64(self.signature),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedHead:
        try:
            return cls(
                size=int(data["tree_size"]),
                root=bytes.fromhex(str(data["root_hash"])),
                timestamp_ms=int(data["timestamp_ms"]),
                key_id=str(data["key_id"]),
                public_key=_unb64(str(data["public_key"]), "a head's public key"),
                signature=_unb64(str(data["signature"]), "a head's signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HeadError(f"not a signed tree head: {exc}") from exc
