"""`lonewatch token list` and `lonewatch token revoke` (beside `token create` in main.py)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from service.application import tokens
from service.domain.errors import NotFound


def cmd_token_list(args: argparse.Namespace, open_container: Callable[[], Any]) -> int:
    container = open_container()
    try:
        found = tokens.list_tokens(container.app)
    finally:
        container.close()
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "id": str(t.id),
                        "user": t.username,
                        "label": t.label,
                        "issued_at": t.issued_at.isoformat(),
                        "revoked": t.revoked,
                    }
                    for t in found
                ],
                indent=2,
            )
        )
        return 0
    for t in found:
        state = "revoked" if t.revoked else "active"
        print(f"{t.id}  {t.username:<16} {t.label:<16} {t.issued_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, open_container: Callable[[], Any]) -> int:
    container = open_container()
    try:
        done = tokens.revoke_token(container.app, args.token, by=f"cli:{getpass.getuser()}")
    except NotFound as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        container.close()
    print(f"revoked token {done.id} of {done.username} ({done.label})")
    return 0


def add_token_commands(token: Any, open_container: Callable[[argparse.Namespace], Any]) -> None:
    """`token list [--format json]` and `token revoke ID|TOKEN` under the `token` subparsers."""
    listing = token.add_parser("list", help="every bearer token: id, user, label, issued, revoked")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(func=lambda args: cmd_token_list(args, lambda: open_container(args)))
    revoke = token.add_parser("revoke", help="revoke a token, by its id (token list) or itself")
    revoke.add_argument("token", help="the token's id from 'token list', or the token")
    revoke.set_defaults(func=lambda args: cmd_token_revoke(args, lambda: open_container(args)))
