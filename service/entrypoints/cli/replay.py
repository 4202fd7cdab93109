"""`lonewatch replay`: a record printed as text, JSON or the printable page, read from the
store as the API serves it (INTERFACES.md section 7), and joined to the audit trail as a
viewing."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


def add_replay_command(sub: Any, open_container: Callable[[argparse.Namespace], Any]) -> None:
    """`replay` on the command's subparsers; `open_container` opens the configured store."""
    replay = sub.add_parser("replay", help="print what was recorded, in order")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--alert", help="the alert's code from a text or the console (e.g. 72EBB3), or its id"
    )
    target.add_argument("--visit")
    target.add_argument("--device")
    target.add_argument("--staff")
    replay.add_argument(
        "--as-of",
        help="only what had been recorded by this ISO instant (without an offset: the "
        "school's local time)",
    )
    replay.add_argument("--format", choices=["text", "json", "html"], default="text")
    replay.add_argument(
        "--detail", action="store_true", help="text: also each try of each message, as recorded"
    )
    replay.set_defaults(func=lambda args: cmd_replay(args, lambda: open_container(args)))


def cmd_replay(args: argparse.Namespace, open_container: Callable[[], Any]) -> int:
    from uuid import UUID

    from service.domain.people.record_access import Access
    from service.records.alert_refs import resolve_alert
    from service.records.audit import record_access
    from service.records.export import render_html
    from service.records.replay import incident_record, subject_school

    container = open_container()
    try:
        container.projector.catch_up()
        if args.alert:
            subject = f"alert:{resolve_alert(container.views, args.alert)}"
        elif args.visit:
            subject = f"visit:{UUID(args.visit)}"
        elif args.device:
            subject = f"device:{args.device}"
        else:
            subject = f"staff:{args.staff}"
        school = subject_school(container.app, container.views, subject)
        zone, school_name = _school_zone(container.views, school)
        as_of = _instant(args.as_of, zone) if args.as_of else None
        record = incident_record(
            container.app,
            container.views,
            subject,
            as_of=as_of,
            merkle=container.merkle,
            key=container.signing_key,
            with_proofs=args.format != "text",
            zone=zone,
        )
        if not record["events"]:
            print(f"nothing recorded for {subject}", file=sys.stderr)
            return 1
        # Reading a record from the command line is a viewing too: it joins the audit trail.
        actor = f"cli:{getpass.getuser()}"
        access_id = record_access(
            container.app,
            actor=actor,
            role="cli",
            school=school,
            subject=subject,
            access=Access.REPLAY_CLI,
            detail=f"format={args.format}",
        )
        exported_at = container.clock.now()
    finally:
        container.close()
    if args.format == "json":
        record.update(exported_by=actor, exported_at=exported_at, access_id=access_id)
        print(json.dumps(record, default=str, indent=2))
    elif args.format == "html":
        html = render_html(
            record,
            exported_by=actor,
            exported_at=exported_at,
            access_id=access_id,
            timezone=zone.key,
        )
        print(html)
    else:
        print_timeline(record, subject, zone, school_name, detail=args.detail)
    return 0 if record["integrity"]["verified"] else 3


def _school_zone(views: Any, school: str | None) -> tuple[ZoneInfo, str]:
    """The zone a school's records are told in, and the school's name."""
    from service.domain.people.directory import timezone_of

    doc = views.get("school", school) if school else None
    return ZoneInfo(timezone_of(doc)), str((doc or {}).get("name") or school or "the school")


def _instant(text: str, zone: ZoneInfo) -> datetime:
    """An ISO instant; without an offset it is the school's wall clock, as people say it."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def print_timeline(
    record: dict[str, Any], subject: str, zone: ZoneInfo, school: str, *, detail: bool = False
) -> None:
    """The record as text, each time in the school's local time with its zone shown; the
    outbox's machinery (each try of each message) only with `detail`."""
    rows = record["events"]
    check = record["integrity"]
    print(f"Timeline of {subject} ({len(rows)} events); times are {school}'s ({zone.key})")
    shown = [row for row in rows if detail or not row.get("detail") or not row["sealed"]]
    for row in shown:
        local = row["recorded_at"].astimezone(zone)
        at = f"{local:%a %d %b %Y %H:%M:%S}.{local.microsecond // 1000:03d} {local.tzname()}"
        seal = " " if row["sealed"] else "!"
        who = row.get("who") or row["source"]
        print(f"{row['position']:>8} {seal} {at}  {who:<28}  {row['summary']}")
    folded = len(rows) - len(shown)
    if folded:
        print(
            f"({folded} {'row' if folded == 1 else 'rows'} of delivery machinery not shown: --detail)"
        )
    if check["verified"]:
        print(f"Record verified: {check['events']} events in {check['streams']} streams.")
    else:
        print("INTEGRITY CHECK FAILED (rows marked !):")
        for problem in check["problems"]:
            print(f"  {problem['aggregate_id']} {problem['detail']}")
