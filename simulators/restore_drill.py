"""The restore drill (`make restore-drill`, docs/security.md "Backups"): a backup is only a
backup once it has been restored and the restored record proven whole.

1. A record in a PostgreSQL of the drill's own (an SOS raised, acknowledged, resolved;
   its Merkle log caught up and a head signed), or, with `--from URL`, a real store.
2. The signed head is saved *before* the backup, as an operator keeps one off the machine.
3. `pg_dump` of that database; `pg_restore` into a second PostgreSQL of the drill's own.
4. `lonewatch verify --since HEAD` on the restored database: every event recomputes to
   its leaf, the tree to the signed root, and the restored record extends the saved head.
5. An incident record exported from the restored store verifies offline
   (`lonewatch verify --export`).

Exit status 0 when every step held. `python -m simulators.restore_drill --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from uuid import UUID

from simulators.local_stack import REPO, OwnPostgres, _free_port, _pg_binary, own_postgres

DEMO_DIRECTORY = REPO / "deploy" / "demo-directory.yaml"
DATABASE = "lonewatch"


def _step(text: str) -> None:
    print(f"restore-drill: {text}", flush=True)


def _database(server: OwnPostgres) -> str:
    import psycopg

    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"postgresql://postgres@127.0.0.1:{server.port}/{DATABASE}"


def seed(url: str, signing_key: str) -> UUID:
    """A small day's record: the demo directory, an SOS, taken and resolved; a head signed."""
    from device_gateway.messages import DeviceReading, parse_device_message
    from service.adapters.directory_file import load_directory
    from service.application.device_intake import DeviceIntake
    from service.bootstrap import build
    from service.config import Settings
    from service.domain.alerts.alert import Outcome

    container = build(Settings(database_url=url, signing_key=signing_key))
    try:
        container.app.import_directory(load_directory(DEMO_DIRECTORY))
        reading = parse_device_message("lw/v1/dev/sos-0001/sos", b'{"id": "drill-1"}')
        assert isinstance(reading, DeviceReading)
        (recorded,) = DeviceIntake(container.app).record([reading])
        alert_id = recorded.alert_id
        assert alert_id is not None
        container.app.acknowledge_alert(alert_id, by="operator:reception1", via="api")
        container.app.resolve_alert(
            alert_id, outcome=Outcome.FALSE_ALARM, note="restore drill", by="dsl:dsl1"
        )
        assert container.merkle is not None
        assert container.signing_key is not None
        container.merkle.catch_up()
        container.merkle.sign(container.signing_key, int(container.clock.now().timestamp() * 1000))
    finally:
        container.close()
    return alert_id


def lonewatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "service.entrypoints.cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _ran(what: str, result: subprocess.CompletedProcess[str], *, show: bool = True) -> bool:
    for line in ((result.stdout if show else "") + result.stderr).strip().splitlines():
        _step(f"  {line}")
    if result.returncode != 0:
        _step(f"FAILED: {what} (exit {result.returncode})")
    return result.returncode == 0


def _start(stack: ExitStack) -> OwnPostgres:
    """A cluster on a free port; another one if that port was taken meanwhile."""
    for attempt in range(3):
        try:
            return stack.enter_context(own_postgres(_free_port()))
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextmanager
def _servers(count: int) -> Iterator[list[OwnPostgres]]:
    with ExitStack() as stack:
        yield [_start(stack) for _ in range(count)]


def drill(
    source: str | None,
    signing_key: str | None,
    public_keys: list[str],
    *,
    after_restore: Callable[[str], None] | None = None,
) -> bool:
    """Every step of the drill; True when the restored record proved whole.
    `after_restore(url)` lets a test damage the restored copy (the drill must then fail)."""
    from service.adapters.signing import SigningKey

    key = SigningKey.from_setting(signing_key) if signing_key else SigningKey.generate()
    trusted = public_keys or [_b64(key.public)]
    keys = [arg for k in trusted for arg in ("--public-key", k)]
    with _servers(1 if source else 2) as servers, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        alert_id = None
        if source is None:
            source = _database(servers.pop())
            _step(f"seeding a record in a PostgreSQL of the drill's own ({source})")
            alert_id = seed(source, key.setting())
        head = work / "head-before-backup.json"
        if not _ran(
            "verify the source and save its head",
            lonewatch({"LW_DATABASE_URL": source}, "verify", *keys, "--save-head", str(head)),
        ):
            return False
        if not head.exists():
            _step("FAILED: the source has no signed tree head to restore against (LW_SIGNING_KEY)")
            return False
        dump = work / "lonewatch.dump"
        _step(f"pg_dump -Fc of {source.split('@')[-1]}")
        subprocess.run(  # noqa: S603 - fixed argument lists
            [_pg_binary("pg_dump"), "-Fc", "-d", source, "-f", str(dump)], check=True, timeout=600
        )
        target = _database(servers[0])
        _step(f"pg_restore into another PostgreSQL of the drill's own ({target})")
        subprocess.run(  # noqa: S603 - fixed argument lists
            [_pg_binary("pg_restore"), "--no-owner", "--exit-on-error", "-d", target, str(dump)],
            check=True,
            timeout=600,
        )
        if after_restore is not None:
            after_restore(target)
        env = {"LW_DATABASE_URL": target}
        if not _ran(
            "verify the restored record", lonewatch(env, "verify", *keys, "--since", str(head))
        ):
            return False
        if alert_id is not None:
            exported = lonewatch(env, "replay", "--alert", str(alert_id), "--format", "json")
            if not _ran("export from the restored store", exported, show=False):
                return False
            export = work / "export.json"
            export.write_text(exported.stdout)
            if not _ran(
                "verify the export offline",
                lonewatch({}, "verify", "--export", str(export), *keys),
            ):
                return False
        restored = json.loads(head.read_text())["tree_size"]
        _step(f"PASSED: the restored record holds and extends the {restored} events signed before")
        return True


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.restore_drill", description=__doc__)
    parser.add_argument(
        "--from",
        dest="source",
        help="a real store to back up (postgresql://...); default: a record of the drill's own",
    )
    parser.add_argument(
        "--public-key", action="append", default=[], help="trusted key(s); default LW_SIGNING_KEY's"
    )
    args = parser.parse_args(argv)
    signing_key = os.environ.get("LW_SIGNING_KEY") or None
    if args.source and not (signing_key or args.public_key):
        parser.error(
            "a real store is checked against its public key: --public-key or LW_SIGNING_KEY"
        )
    return 0 if drill(args.source, signing_key, args.public_key) else 1


if __name__ == "__main__":
    raise SystemExit(main())
