"""`lonewatch mosquitto ...`: the broker's files for the devices (`lonewatch simulate ...`
belongs to the simulators: simulators/cli.py, found by found_commands.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from service.adapters.mosquitto_files import GATEWAY_USER, Account, gateway_account, password_file
from service.config import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_file=args.config)


def cmd_mosquitto_passwd(args: argparse.Namespace) -> int:
    """Every device with a secret, plus the gateway's account, as a Mosquitto password file."""
    from eventsourcing.application import AggregateNotFoundError

    from service.bootstrap import build
    from service.domain import ids
    from service.domain.people.directory import Device

    settings = _settings(args)
    endpoint = None if settings.mqtt_url == "embedded" else settings.mqtt
    username = args.gateway_user or (endpoint.username if endpoint else None) or GATEWAY_USER
    if args.gateway_password_stdin:
        password: str | None = sys.stdin.readline().rstrip("\n")
    else:
        password = endpoint.password if endpoint else None
    if not password:
        raise ConfigError(
            "the gateway's broker password is needed: put it in LW_MQTT_URL "
            "(mqtt://lonewatch-gateway:PASSWORD@host:1883) or pass --gateway-password-stdin"
        )
    accounts = [gateway_account(username, password)]
    container = build(settings)
    try:
        container.projector.catch_up()
        keys = [doc["id"] for doc in container.views.find("device", limit=1_000_000)]
        without_secret = []
        for key in sorted(keys):
            try:
                device: Any = container.app.repository.get(ids.device_id(key))
            except AggregateNotFoundError:
                continue
            if isinstance(device, Device) and device.secret_hash:
                accounts.append(Account(key, device.secret_hash))
            else:
                without_secret.append(key)
    finally:
        container.close()
    text = password_file(accounts)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    print(
        f"{len(accounts) - 1} devices and the gateway account {username!r} written"
        + (f"; no secret, left out: {', '.join(without_secret)}" if without_secret else ""),
        file=sys.stderr,
    )
    return 0


def add_commands(sub: Any) -> None:
    """Attach `mosquitto` to the root parser's subcommands."""
    mosquitto = sub.add_parser("mosquitto", help="files for a Mosquitto broker").add_subparsers(
        dest="action", required=True
    )
    passwd = mosquitto.add_parser(
        "passwd", help="write Mosquitto's password file from the directory (devices + gateway)"
    )
    passwd.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    passwd.add_argument(
        "--gateway-user",
        help=f"the gateway's username (default: from LW_MQTT_URL, else {GATEWAY_USER})",
    )
    passwd.add_argument(
        "--gateway-password-stdin",
        action="store_true",
        help="read the gateway's password from standard input (default: from LW_MQTT_URL)",
    )
    passwd.set_defaults(func=cmd_mosquitto_passwd)
