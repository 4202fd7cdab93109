"""The `lonewatch` command (INTERFACES.md section 7)."""

from __future__ import annotations

import argparse
import errno
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError

from service.adapters.directory_file import DirectoryError, load_directory
from service.config import ConfigError, Settings, load_settings
from service.domain.errors import DomainError
from service.entrypoints.cli.replay import add_replay_command
from service.entrypoints.cli.tokens import add_token_commands
from service.entrypoints.http.bounds import HEADER_SECONDS
from service.logs import configure_logging, get_logger

log = get_logger("lonewatch")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_file=args.config)


def _open(settings: Settings, *, create: bool = False) -> Any:
    """The assembled service on the configured store. Only `serve`, `demo` and `directory
    import` may start a new SQLite store: any other command on a missing one is a mistake
    (the wrong folder, a typo), and an empty store made for it would find no users."""
    from service.bootstrap import build

    if not create and settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        if not path.exists():
            raise ConfigError(
                f"no store at {path}: start the service once (make run), or import a "
                "directory (lonewatch directory import FILE), or set LW_DATABASE_URL"
            )
    return build(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.directory:
        settings = settings.with_changes(directory=args.directory)
    return serve(settings)


def serve(
    settings: Settings, prepare: Callable[[Any], None] | None = None, log_level: int = 20
) -> int:
    """Run the service until interrupted. `prepare(container)` runs once the directory is
    imported and before the first request (`lonewatch demo` gives its users passwords);
    `log_level` 30 keeps the log to warnings (the demo tells its own story)."""
    from aiohttp import web

    from service.bootstrap import create_app

    configure_logging(settings.log_format, level=log_level)
    container = _open(settings, create=True)
    try:
        if settings.directory is not None:
            report = container.app.import_directory(load_directory(settings.directory))
            log.info("directory_imported", file=str(settings.directory), **vars(report))
        if prepare is not None:
            prepare(container)
        mqtt = settings.mqtt
        log.info(
            "lonewatch_starting",
            http=f"http://{settings.http_addr}",
            database=settings.database_url.split("@")[-1],
            mqtt="embedded" if mqtt.embedded else f"{mqtt.host}:{mqtt.port}",
            mqtt_port=mqtt.port,
            notifier="twilio" if settings.twilio else "console",
        )
        if settings.twilio and not settings.public_url:
            log.warning(
                "voice_calls_unavailable",
                detail=f"Twilio is told to reach this service at {settings.effective_public_url} "
                "(LW_PUBLIC_URL unset): unless Twilio can reach that address, calls ring but "
                "cannot fetch what to say or take the key press, and delivery reports and texts "
                "from phones never arrive. Set LW_PUBLIC_URL to the address Twilio reaches us at",
            )
        if mqtt.embedded:
            log.warning(
                "embedded_broker_is_for_trying_out",
                detail="amqtt does not redeliver unacknowledged messages; production uses Mosquitto",
            )
        log.info(
            "console_at",
            console=f"{settings.effective_public_url}/console/",
            sign_in="as a user of the directory, once given a password: "
            "lonewatch user password USERNAME",
        )
        web.run_app(
            create_app(container),
            host=settings.http_host,
            port=settings.http_port,
            print=None,
            shutdown_timeout=5,
            keepalive_timeout=HEADER_SECONDS,  # a half-sent request head is not held open
        )
    finally:
        container.close()
    return 0


def cmd_directory_import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    directory = load_directory(args.file)
    container = _open(settings, create=True)
    try:
        report = container.app.import_directory(directory)
    finally:
        container.close()
    print(
        f"imported {args.file}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from argon2 import PasswordHasher

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"New password for {args.user}: ")
        if password != getpass.getpass("Again: "):
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    from service.domain.people.accounts import password_problem

    if (problem := password_problem(password)) is not None:
        print(problem, file=sys.stderr)
        return 2
    container = _open(_settings(args))
    try:
        container.app.set_password(args.user, PasswordHasher().hash(password))
    finally:
        container.close()
    print(f"password set for {args.user}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    container = _open(_settings(args))
    try:
        if args.integration:
            from service.application.integrations import issue_integration_token

            token = issue_integration_token(container.app, args.integration, label=args.label)
        else:
            token = container.app.issue_token(args.user, label=args.label)
    finally:
        container.close()
    print(token)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """The benchmarks live beside the code (benchmarks/, docs/performance.md): run them there."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").exists():
        print("the benchmarks ship with the source tree; run this from a checkout", file=sys.stderr)
        return 2
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        *(["--quick"] if args.quick else []),
        *args.names,
    ]
    return subprocess.call(command, cwd=root)  # noqa: S603 - our own interpreter and module


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="lonewatch",
        description="Lone-worker safety for school home visits: run the service, manage its "
        "directory, users and tokens, replay what happened, simulate devices.",
    )
    root.add_argument("--config", type=Path, help="a TOML file with the LW_* keys")
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway, escalation, API and console")
    serve.add_argument("--directory", type=Path, help="import this directory file at start")
    serve.set_defaults(func=cmd_serve)

    directory = sub.add_parser("directory", help="the school directory").add_subparsers(
        dest="action", required=True
    )
    imp = directory.add_parser("import", help="import a directory file (idempotent)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=cmd_directory_import)

    user = sub.add_parser("user", help="console users").add_subparsers(dest="action", required=True)
    pw = user.add_parser("password", help="set a user's password")
    pw.add_argument("user")
    pw.add_argument("--password-stdin", action="store_true", help="read it from standard input")
    pw.set_defaults(func=cmd_user_password)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser(
        "create", help="print a new bearer token for a user or an integration (traccar)"
    )
    holder = create.add_mutually_exclusive_group(required=True)
    holder.add_argument("--user")
    holder.add_argument("--integration", choices=["traccar"])
    create.add_argument("--label", default="cli")
    create.set_defaults(func=cmd_token_create)
    add_token_commands(token, lambda args: _open(_settings(args)))

    add_replay_command(sub, lambda args: _open(_settings(args)))

    bench = sub.add_parser(
        "bench",
        help="run the benchmarks (make bench): ingest, sos, rebuild, fleet, replay; chaos",
    )
    bench.add_argument("--quick", action="store_true", help="the short runs, under two minutes")
    bench.add_argument("names", nargs="*", help="only these benchmarks")
    bench.set_defaults(func=cmd_bench)

    from service.entrypoints.cli.devices import add_commands
    from service.entrypoints.cli.found_commands import add_found_commands
    from service.entrypoints.cli.verify import add_commands as add_record_commands

    add_commands(sub)
    add_record_commands(sub)
    add_found_commands(sub)  # `simulate` and `demo`, from the simulators
    return root


_STORE_DOWN = (OperationalError, psycopg.OperationalError, sqlite3.OperationalError)
"""What opening or reading a store raises when it cannot be reached (the event store's
driver errors as eventsourcing wraps them; the views' pool as psycopg raises them)."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "serve" and args.command != "demo":
        configure_logging("console", level=30)
    try:
        return int(args.func(args))
    except (ConfigError, DirectoryError, DomainError, ValueError) as exc:
        print(f"lonewatch: {exc}", file=sys.stderr)
        return 2
    except _STORE_DOWN as exc:
        # A database that is down or misnamed printed fifty lines of a psycopg traceback
        # and nothing about what to check.
        print(f"lonewatch: {store_down_message(args, exc)}", file=sys.stderr)
        return 3
    except Exception as exc:
        taken = _address_in_use(exc)
        if taken is None:
            raise
        # `make run` with something on 8080 (or 1884) printed asyncio's (or amqtt's) traceback.
        print(f"lonewatch: {port_taken_message(args, taken)}", file=sys.stderr)
        return 3


def _address_in_use(exc: BaseException | None) -> OSError | None:
    """The "address already in use" behind a failure, if that is what it is (the embedded
    broker wraps it in its own BrokerError)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def port_taken_message(args: argparse.Namespace, exc: OSError) -> str:
    """One line for a port another program holds: which setting moves us off it."""
    settings = _settings(args)
    if f", {settings.http_port})" in str(exc) or f":{settings.http_port}" in str(exc):
        what, setting = f"the console and API at {settings.http_addr}", "LW_HTTP_ADDR"
    else:
        port = settings.embedded_mqtt_port
        what, setting = f"the embedded broker on port {port}", "LW_EMBEDDED_MQTT_PORT"
    return (
        f"cannot start {what}: the address is already in use. Another program (or another "
        f"lonewatch) holds it: stop it (ss -ltnp shows which), or set {setting} to a free one"
    )


def store_down_message(args: argparse.Namespace, exc: BaseException) -> str:
    """One line for a store that cannot be opened: where, why, and what to check."""
    try:
        url = _settings(args).database_url
    except ConfigError:
        url = os.environ.get("LW_DATABASE_URL", "")
    where = url.rsplit("@", 1)[-1]  # never the password
    why = " ".join(str(exc).split()) or type(exc).__name__
    return (
        f"cannot open the event store at {where} (LW_DATABASE_URL): {why}. Is the database "
        "running and accepting connections there (pg_isready -h HOST -p PORT)? Check the "
        "URL's host, port, database name and user; for SQLite, that the folder exists and "
        "may be written"
    )


if __name__ == "__main__":
    raise SystemExit(main())
