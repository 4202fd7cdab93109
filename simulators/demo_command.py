"""`lonewatch demo`: the service with everything embedded, and a school day played on it.

A fresh store in a new folder (or `--store`), the in-process MQTT broker, the Twilio double
in this process (texts and calls are real requests of the real `twilio` library, listed on
the double's page and in this output), the demo directory with its policy durations
compressed by `--speed`, a password for every demo user; then `simulators/demo_day.py`
plays the day while the console is open.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from service.config import Settings, load_settings
from simulators.demo_day import (
    HEARTBEAT_EVERY,
    DemoDay,
    Stage,
    compressed_directory,
    heartbeat_fobs,
)
from simulators.twilio_double import TwilioDouble

DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "deploy" / "demo-directory.yaml"
DEMO_PASSWORD = "lonewatch-demo"  # noqa: S105 - printed for anyone trying the demo
USERS = (
    "reception1",
    "dsl1",
    "head1",
    "slt1",
    "admin1",
    "teacher1",
    "kdsl",
    "kreception",
    "s-jones",
    "p-patel",
    "r-ross",
)
"""Demo users with a password and a token; the visitors sign their own risk assessments."""
SID, TOKEN, FROM = "AC" + "de30" * 8, "demo-auth-token", "+441702999000"


class EmbeddedTwilio:
    """The Twilio double on its own event loop, in a thread of this process."""

    def __init__(self) -> None:
        self.double = TwilioDouble(SID, TOKEN)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="twilio-double", daemon=True).start()
        self.url = asyncio.run_coroutine_threadsafe(self.double.start(), self.loop).result(10)
        # Nobody at the contact centre desks picks up; the DSL presses 1; texts are delivered.
        self.double.default_outcomes = {"messages": "delivered", "calls": "no_answer"}
        self.double.answer("+441702000011", "pressed", kinds=("calls",))


def _numbers(directory: Path) -> dict[str, str]:
    """Phone number -> who has it, for telling who was texted or called."""
    import yaml

    data = yaml.safe_load(directory.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for school in data.get("schools", []):
        if school.get("reception_phone"):
            names[school["reception_phone"]] = f"{school['name']} reception"
        for contact in school.get("contacts", []):
            names[contact["phone"]] = contact["name"]
    for staff in data.get("staff", []):
        names[staff["phone"]] = staff["name"]
    for user in data.get("users", []):
        if user.get("phone"):
            names.setdefault(user["phone"], user["username"])
    return names


def watch_messages(stage: Stage, twilio: EmbeddedTwilio, names: dict[str, str]) -> None:
    """Tell each text and call the service asks Twilio for, as it is asked."""
    told = {"messages": 0, "calls": 0}
    while not stage.stop.wait(0.5):
        for kind, records in (("messages", twilio.double.messages), ("calls", twilio.double.calls)):
            for record in records[told[kind] :]:
                form = record["form"]
                to = form.get("To", "")
                # e.g. a mobile given on the console's Users page, or in a visit's plan
                who = f"{names.get(to, 'a number not in the directory file')} ({to})"
                what = (
                    f"text to {who}: {form.get('Body')}" if kind == "messages" else f"call to {who}"
                )
                stage.say(f"demo {' ' * 8} |   {what}")
            told[kind] = len(records)


def _wait_for_service(http: str, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{http}/api/v1/health", timeout=2):  # noqa: S310
                return True
        except OSError:
            stop.wait(0.3)
    return False


def _play(stage: Stage) -> None:
    if _wait_for_service(stage.http, stage.stop):
        DemoDay(stage).play()


def cmd_demo(args: argparse.Namespace) -> int:
    from argon2 import PasswordHasher

    from service.entrypoints.cli.main import serve

    base = load_settings(config_file=args.config)
    store = Path(args.store or tempfile.mkdtemp(prefix="lonewatch-demo-")).resolve()
    store.mkdir(parents=True, exist_ok=True)
    directory = store / "demo-directory.yaml"
    source = (args.directory or DEMO_DIRECTORY).read_text(encoding="utf-8")
    directory.write_text(compressed_directory(source, args.speed), encoding="utf-8")
    host, _, port = base.http_addr.rpartition(":")
    http = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    twilio = EmbeddedTwilio()
    settings: Settings = base.with_changes(
        database_url=f"sqlite:///{store / 'lonewatch.sqlite3'}",
        mqtt_url="embedded",
        directory=directory,
        public_url=http,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from_number=FROM,
        twilio_api_base=twilio.url,
    )
    stage = Stage(
        http=http,
        mqtt_host="127.0.0.1",
        mqtt_port=settings.mqtt.port,
        mqtt_prefix=settings.mqtt_topic_prefix,
        tokens={},
        twilio_auth_token=TOKEN,
        speed=args.speed,
        say=lambda line: print(line, flush=True),
    )

    def prepare(container: Any) -> None:
        hashed = PasswordHasher().hash(DEMO_PASSWORD)
        for user in USERS:
            container.app.set_password(user, hashed)
            stage.tokens[user] = container.app.issue_token(user, label="demo")
        print(banner(http, twilio.url, store, args), flush=True)
        if args.no_day:
            return
        every = min(HEARTBEAT_EVERY, 60 / args.speed)
        for name, target, more in (
            ("demo-fobs", heartbeat_fobs, (every,)),
            ("demo-day", _play, ()),
            ("demo-messages", watch_messages, (twilio, _numbers(directory))),
        ):
            threading.Thread(target=target, args=(stage, *more), name=name, daemon=True).start()

    started = time.monotonic()
    try:
        return serve(settings, prepare, log_level=20 if args.verbose else 30)
    finally:
        stage.stop.set()
        asyncio.run_coroutine_threadsafe(twilio.double.stop(), twilio.loop).result(10)
        twilio.loop.call_soon_threadsafe(twilio.loop.stop)
        print(f"demo ended after {time.monotonic() - started:.0f} s; the record is in {store}")


def banner(http: str, twilio: str, store: Path, args: argparse.Namespace) -> str:
    day = (
        "no day is played (--no-day)"
        if args.no_day
        else f"a school day plays now at {args.speed:g}x speed (about {50 * 60 / args.speed / 60:.0f} min)"
    )
    return "\n".join(
        [
            "",
            "Lonewatch demo",
            f"  console:   {http}/console/",
            f"  sign in:   reception1 (contact centre), dsl1 (DSL), head1 (headteacher), "
            f"admin1 (administrator); password {DEMO_PASSWORD}",
            f"  texts and calls sent: {twilio}/_double/  (a local stand-in for Twilio)",
            f"  the record: {store} (LW_DATABASE_URL=sqlite:///{store / 'lonewatch.sqlite3'} "
            "lonewatch replay --alert CODE)",
            f"  {day}",
            "",
        ]
    )


def _speed(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= 600:
        raise argparse.ArgumentTypeError("a speed from 0.5 (slower than life) to 600")
    return value


def add_demo_command(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="everything embedded, the demo directory, and a school day played on it",
        description="Start Lonewatch with an embedded store, broker and Twilio stand-in, and "
        "play a school day: visits go out, an SOS escalates and is taken, a visit goes overdue.",
    )
    demo.add_argument(
        "--directory",
        type=Path,
        help="a directory file instead of the demo one (the day played needs the demo's "
        "Lancaster School staff, fobs and users)",
    )
    demo.add_argument(
        "--speed",
        type=_speed,
        default=10.0,
        help="how much faster than real time the day runs (default 10: the day in about 5 min)",
    )
    demo.add_argument("--store", type=Path, help="keep the record in this folder (default: new)")
    demo.add_argument("--no-day", action="store_true", help="serve only; play nothing")
    demo.add_argument(
        "--verbose", action="store_true", help="the service's own log too (default: warnings)"
    )
    demo.set_defaults(func=cmd_demo)
