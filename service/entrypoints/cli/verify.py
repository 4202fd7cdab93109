"""`lonewatch verify` and `lonewatch signing-key ...`: the record's proof of being whole.

`verify` checks the store named by LW_DATABASE_URL (or, with `--export`, an exported
record on its own, with no database at all) and prints what it found; exit status 0
when the record is whole, 3 when it is not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from service.config import ConfigError, load_settings


def _trusted(args: argparse.Namespace, signing_key: str | None) -> list[bytes] | None:
    from service.adapters.signing import SigningKey, load_public_key, public_key_bytes

    if args.public_key:
        return [public_key_bytes(load_public_key(k)) for k in args.public_key]
    if signing_key:
        return [SigningKey.from_setting(signing_key).public]
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    return data


def _earlier_head(path: Path) -> Any:
    """A head saved with --save-head, or the head an export carries."""
    from service.adapters.signing import SignedHead

    data = _read_json(path)
    return SignedHead.from_json((data.get("merkle") or {}).get("head") or data)


def cmd_verify(args: argparse.Namespace) -> int:
    from service.records.verification import verify_export, verify_store

    settings = load_settings(config_file=args.config)
    trusted = _trusted(args, settings.signing_key)
    if args.export:
        verdict = verify_export(_read_json(args.export), trusted=trusted)
        what = f"export {args.export}"
    else:
        from service.bootstrap import build

        since = _earlier_head(args.since) if args.since else None
        container = build(settings)
        try:
            assert container.merkle is not None
            if args.catch_up:
                container.merkle.catch_up()
                if container.signing_key is not None:
                    now = container.clock.now()
                    container.merkle.sign(container.signing_key, int(now.timestamp() * 1000))
            verdict = verify_store(container.merkle, trusted=trusted, since=since)
        finally:
            container.close()
        what = "store " + settings.database_url.split("@")[-1]
    if args.save_head and verdict.head is not None:
        args.save_head.write_text(json.dumps(verdict.head.to_json(), indent=2) + "\n")
    if args.json:
        print(json.dumps(verdict.to_json(), indent=2))
    elif verdict.ok:
        print(f"Record verified: {what}, {verdict.events} events.")
        for note in verdict.notes:
            print(f"  {note}")
    else:
        print(f"RECORD CHECK FAILED: {what}, {verdict.events} events.")
        for problem in verdict.problems:
            print(f"  {problem}")
    return 0 if verdict.ok else 3


def cmd_signing_key_new(_: argparse.Namespace) -> int:
    from service.adapters.signing import SigningKey, key_id

    key = SigningKey.generate()
    print(f"LW_SIGNING_KEY={key.setting()}")
    print(f"# public key (for lonewatch verify --public-key): {_b64(key.public)}")
    print(f"# key id: {key_id(key.public)}")
    return 0


def cmd_signing_key_public(args: argparse.Namespace) -> int:
    from service.adapters.signing import SigningKey, key_id

    settings = load_settings(config_file=args.config)
    if not settings.signing_key:
        print("LW_SIGNING_KEY is not set", file=sys.stderr)
        return 2
    key = SigningKey.from_setting(settings.signing_key)
    print(f"{_b64(key.public)}  (key id {key_id(key.public)})")
    return 0


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def add_commands(sub: Any) -> None:
    verify = sub.add_parser(
        "verify", help="check that the record is whole: the store, or an export offline"
    )
    verify.add_argument("--export", type=Path, help="an exported record (JSON) to check alone")
    verify.add_argument(
        "--since",
        type=Path,
        help="an earlier signed head (or an export): prove the record extends it",
    )
    verify.add_argument(
        "--public-key",
        action="append",
        help="a trusted public key (repeat for rotated keys); default: LW_SIGNING_KEY's",
    )
    verify.add_argument("--save-head", type=Path, help="write the latest signed head to this file")
    verify.add_argument(
        "--catch-up",
        action="store_true",
        help="first append new events to the log and sign a head (needs LW_SIGNING_KEY)",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(func=cmd_verify)

    keys = sub.add_parser("signing-key", help="the tree heads' Ed25519 key").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("new", help="print a new LW_SIGNING_KEY and its public key").set_defaults(
        func=cmd_signing_key_new
    )
    keys.add_parser("public", help="print LW_SIGNING_KEY's public key").set_defaults(
        func=cmd_signing_key_public
    )
