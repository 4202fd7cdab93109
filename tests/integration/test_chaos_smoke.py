"""The chaos run (benchmarks/chaos.py) with one short fault, so CI notices when it stops working.

It runs the real `lonewatch serve` on a PostgreSQL cluster and a Mosquitto of its own
(never the shared ones) under device load and restarts the database once. Its timing
figures are for `make chaos`; here only what must hold whatever the timing is checked
(INTERFACES.md section 2: "A message is acknowledged to the broker only after it is
durably recorded"; "the same device and id are recorded once").
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES


def _need(what: str, found: bool) -> None:
    if found:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is not installed and LW_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{what} is not installed")


def test_a_database_restart_under_device_load_loses_no_message_and_texts_every_sos(
    tmp_path: Path,
) -> None:
    from benchmarks.chaos import run_plan
    from benchmarks.chaos_plan import Plan
    from simulators.local_stack import _pg_binary

    try:
        _pg_binary("initdb")
        has_postgres = True
    except FileNotFoundError:
        has_postgres = False
    _need("PostgreSQL's initdb", has_postgres)
    _need("mosquitto", bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()))

    plan = replace(
        Plan.for_mode(quick=True, faults=("postgres-fast",)),
        before=3.0,
        after=10.0,
        take_after=6.0,
        heartbeat_devices=5,
        sos_devices=5,
        drain=30.0,
        max_seconds=60.0,
        max_messages=2_000,
    )
    result = asyncio.run(run_plan(plan, log_dir=tmp_path))

    row = result.details["faults"]["postgres-fast"]
    assert result.details["aborted"] is None
    assert row["sent"] > 0
    assert row["lost"] == 0, row["lost_ids"]
    assert row["duplicated"] == 0
    assert row["sos_missed"] == 0, "an SOS was never texted"
    assert len(row["sos_during_ms"]) == 1  # the press made while the database was down
    assert row["steps_due"] > 0  # the ladder was checked, not skipped
