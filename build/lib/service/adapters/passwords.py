"""Checking a password against its argon2 hash on one thread.

argon2 computes a hash's `p` lanes on `p` threads (4 with argon2-cffi's defaults: ~1.5 of
this machine's 2 cores for ~140 ms). The result does not depend on how many threads
compute it, so a check here uses one: with the one-thread password pool, a flood of
sign-ins can take at most one core from the alarm path, whatever the hashes' parameters.
Anything but a standard `$argon2{id,i,d}$v=..$m=..,t=..,p=..$salt$hash` string is left
to argon2-cffi's own `verify`.
"""

from __future__ import annotations

import base64
import hmac

from _argon2_cffi_bindings import ffi, lib
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import core, error_to_str

_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
_FALLBACK = PasswordHasher()


def _unpadded_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def verify(encoded: str, password: str) -> bool:
    """True for the right password, False for a wrong one; InvalidHashError for a hash
    that cannot be read."""
    try:
        _, variant, version, params, salt_text, digest_text = encoded.split("$")
        settings = dict(pair.split("=", 1) for pair in params.split(","))
        kind = _TYPES[variant]
        number = int(version.removeprefix("v="))
        memory, passes, lanes = int(settings["m"]), int(settings["t"]), int(settings["p"])
        salt, wanted = _unpadded_b64(salt_text), _unpadded_b64(digest_text)
    except (ValueError, KeyError):
        try:
            return _FALLBACK.verify(encoded, password)
        except VerifyMismatchError:
            return False
    secret = password.encode("utf-8")
    out = ffi.new("uint8_t[]", len(wanted))
    pwd = ffi.new("uint8_t[]", max(1, len(secret)))
    ffi.memmove(pwd, secret, len(secret))
    salt_c = ffi.new("uint8_t[]", salt)
    context = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": len(wanted),
            "pwd": pwd,
            "pwdlen": len(secret),
            "salt": salt_c,
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": passes,
            "m_cost": memory,
            "lanes": lanes,
            "threads": 1,
            "version": number,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    status = core(context, kind.value)
    if status != lib.ARGON2_OK:
        if status in (lib.ARGON2_SALT_TOO_SHORT, lib.ARGON2_OUTPUT_TOO_SHORT):
            raise InvalidHashError(error_to_str(status))
        raise VerificationError(error_to_str(status))
    return hmac.compare_digest(bytes(ffi.buffer(out, len(wanted))), wanted)
