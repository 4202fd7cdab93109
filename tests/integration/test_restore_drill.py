"""`make restore-drill` (docs/security.md, "Backups"): a backup restored into another
PostgreSQL proves the record whole, and a damaged restore is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from simulators import restore_drill
from tests.conftest import REQUIRE_SERVICES
from tests.harness import REPO


@pytest.fixture(autouse=True)
def postgres_binaries() -> None:
    missing = [b for b in ("pg_dump", "pg_restore") if shutil.which(b) is None]
    try:
        restore_drill._pg_binary("initdb")
    except FileNotFoundError:
        missing.append("initdb")
    if missing:
        if REQUIRE_SERVICES:
            pytest.fail(f"{missing} not installed and LW_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{missing} not installed")


def test_the_restore_drill_passes_on_a_sound_backup() -> None:
    """What `make restore-drill` runs."""
    result = subprocess.run(
        [sys.executable, "-m", "simulators.restore_drill"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Record verified: store" in result.stdout
    assert "extends the earlier head" in result.stdout
    assert "events proven in the record" in result.stdout
    assert "PASSED" in result.stdout


def test_the_restore_drill_fails_when_the_restored_record_lost_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A restore that lost the last events (an old or partial dump) is not a good backup."""

    def lose_the_last_events(url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = 'notification_id' AND table_name LIKE '%events'"
            ).fetchone()
            assert row is not None
            table = sql.Identifier(row[0])
            conn.execute(
                sql.SQL(
                    "DELETE FROM {0} WHERE notification_id > (SELECT max(notification_id) - 2 FROM {0})"
                ).format(table)
            )

    assert not restore_drill.drill(None, None, [], after_restore=lose_the_last_events)
    out = capsys.readouterr().out
    assert "RECORD CHECK FAILED" in out and "removed" in out
    assert "FAILED: verify the restored record" in out
