"""`lonewatch mosquitto ...` and `lonewatch simulate ...`: the device side of the command line."""

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


def _broker(args: argparse.Namespace) -> tuple[str, int, str]:
    settings = _settings(args)
    endpoint = settings.mqtt
    return (
        args.host or endpoint.host,
        args.port or endpoint.port,
        settings.mqtt_topic_prefix,
    )


def cmd_simulate_directory(args: argparse.Namespace) -> int:
    from simulators.fleet import fleet_directory_yaml

    base = args.base or Path(__file__).resolve().parent.parent / "deploy" / "demo-directory.yaml"
    sys.stdout.write(fleet_directory_yaml(base.read_text(encoding="utf-8"), args.devices))
    return 0


def cmd_simulate_fleet(args: argparse.Namespace) -> int:
    from simulators.fleet import Progress, run_fleet

    host, port, prefix = _broker(args)
    summary = run_fleet(
        host=host,
        port=port,
        devices=args.devices,
        rate=args.rate,
        duration=args.duration,
        prefix=prefix,
        with_secrets=not args.anonymous,
        progress=None if args.quiet else Progress(args.duration),
    )
    for line in summary.lines():
        print(line)
    return 0 if summary.connected == summary.devices else 1


def cmd_simulate_scenario(args: argparse.Namespace) -> int:
    from simulators.scenarios import SCENARIOS, ScenarioRun

    host, port, prefix = _broker(args)
    run = ScenarioRun(
        host=host,
        port=port,
        prefix=prefix,
        device=args.device,
        secret=args.secret,
        safe_word=args.safe_word,
    )
    names = list(SCENARIOS) if args.name == "all" else [args.name]
    ok = True
    for name in names:
        result = SCENARIOS[name](run)
        ok = ok and result.ok
        print("\n".join(result.lines()))
    return 0 if ok else 1


def add_commands(sub: Any) -> None:
    """Attach `mosquitto` and `simulate` to the root parser's subcommands."""
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

    from simulators.scenarios import SCENARIOS

    simulate = sub.add_parser("simulate", help="simulated devices").add_subparsers(
        dest="action", required=True
    )

    def broker_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", help="broker host (default: from LW_MQTT_URL)")
        parser.add_argument("--port", type=int, help="broker port (default: from LW_MQTT_URL)")

    directory = simulate.add_parser(
        "directory", help="print a directory file: the demo one plus N fleet devices"
    )
    directory.add_argument("--devices", type=int, required=True)
    directory.add_argument("--base", type=Path, help="directory file to add to (default: demo)")
    directory.set_defaults(func=cmd_simulate_directory)

    fleet = simulate.add_parser("fleet", help="N devices heartbeating, R messages/s in all")
    fleet.add_argument("--devices", type=int, required=True)
    fleet.add_argument("--rate", type=float, required=True, help="messages per second, whole fleet")
    fleet.add_argument("--duration", type=float, help="seconds (default: until Ctrl-C)")
    fleet.add_argument("--anonymous", action="store_true", help="connect without the fleet secrets")
    fleet.add_argument("--quiet", action="store_true", help="no progress bar")
    broker_options(fleet)
    fleet.set_defaults(func=cmd_simulate_fleet)

    scenario = simulate.add_parser("scenario", help="play one device scenario")
    scenario.add_argument("name", choices=[*SCENARIOS, "all"])
    scenario.add_argument("--device", default="sos-0001")
    scenario.add_argument("--secret", help="the device's broker secret, if the broker asks")
    scenario.add_argument("--safe-word", default="bluebird", help="for duress-text")
    broker_options(scenario)
    scenario.set_defaults(func=cmd_simulate_scenario)
