"""`lonewatch simulate ...` (INTERFACES.md section 7): the simulators' own commands.

The service's command line finds `add_commands` through the `lonewatch.commands` entry
point group (pyproject.toml) and never imports the simulators itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from service.config import load_settings
from simulators.fleet import Progress, run_fleet
from simulators.fleet_directory import fleet_directory_yaml
from simulators.scenarios import SCENARIOS, VIA_OTHER_SYSTEMS, ScenarioRun

DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "deploy" / "demo-directory.yaml"


def _broker(args: argparse.Namespace) -> tuple[str, int, str]:
    """Host, port and topic prefix: the options given, else the service's own settings."""
    settings = load_settings(config_file=args.config)
    endpoint = settings.mqtt
    return args.host or endpoint.host, args.port or endpoint.port, settings.mqtt_topic_prefix


def cmd_simulate_directory(args: argparse.Namespace) -> int:
    base = args.base or DEMO_DIRECTORY
    sys.stdout.write(fleet_directory_yaml(base.read_text(encoding="utf-8"), args.devices))
    return 0


def cmd_simulate_fleet(args: argparse.Namespace) -> int:
    host, port, prefix = _broker(args)
    report = run_fleet(
        host=host,
        port=port,
        devices=args.devices,
        rate=args.rate,
        duration=args.duration,
        prefix=prefix,
        with_secrets=not args.anonymous,
        progress=None if args.quiet else Progress(args.duration),
    )
    for line in report.lines():
        print(line)
    return 0 if report.connections == report.devices else 1


def cmd_simulate_scenario(args: argparse.Namespace) -> int:
    host, port, prefix = _broker(args)
    run = ScenarioRun(
        host=host,
        port=port,
        prefix=prefix,
        device=args.device,
        secret=args.secret,
        safe_word=args.safe_word,
        http=args.http,
        token=args.token,
    )
    names = list(SCENARIOS) if args.name == "all" else [args.name]
    ok = True
    for name in names:
        result = {**SCENARIOS, **VIA_OTHER_SYSTEMS}[name](run)
        ok = ok and result.ok
        print("\n".join(result.lines()))
    return 0 if ok else 1


def _broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="broker host (default: from LW_MQTT_URL)")
    parser.add_argument("--port", type=int, help="broker port (default: from LW_MQTT_URL)")


def add_commands(sub: Any) -> None:
    """Attach `simulate` and `demo` to the root parser's subcommands (`sub`)."""
    from simulators.demo_command import add_demo_command

    add_demo_command(sub)
    simulate = sub.add_parser("simulate", help="simulated devices").add_subparsers(
        dest="action", required=True
    )

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
    _broker_options(fleet)
    fleet.set_defaults(func=cmd_simulate_fleet)

    scenario = simulate.add_parser("scenario", help="play one device scenario")
    scenario.add_argument("name", choices=[*SCENARIOS, *VIA_OTHER_SYSTEMS, "all"])
    scenario.add_argument("--device", default="sos-0001")
    scenario.add_argument("--secret", help="the device's broker secret, if the broker asks")
    scenario.add_argument("--safe-word", default="bluebird", help="for duress-text")
    scenario.add_argument("--http", default="http://127.0.0.1:8080", help="for traccar-sos")
    scenario.add_argument("--token", help="a Traccar integration token, for traccar-sos")
    _broker_options(scenario)
    scenario.set_defaults(func=cmd_simulate_scenario)
