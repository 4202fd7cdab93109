"""The Merkle log on a real store: the record proves itself whole, on SQLite and on
PostgreSQL, and through the command line (`lonewatch verify`, INTERFACES.md section 7)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from service.adapters.merkle_log import MerkleLog
from service.adapters.signing import SigningKey
from service.application.device_intake import DeviceIntake
from service.bootstrap import create_app
from service.config import Settings
from service.domain.alerts.alert import Outcome
from service.records.replay import incident_record
from service.records.verification import verify_export, verify_store
from tests.console_world import with_every_role
from tests.devices import Devices
from tests.harness import REPO, cli, eventually, service_in_process
from tests.worlds import World, a_trust_with_lone_visitors

KEY = SigningKey.generate()


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    world = a_trust_with_lone_visitors(database_url)
    yield world
    world.close()


def a_resolved_sos(world: World, msg_id: str = "m1") -> UUID:
    recorded = world.press("sos-0001", msg_id)
    assert recorded.alert_id is not None
    world.app.acknowledge_alert(recorded.alert_id, by="operator:reception1", via="api")
    world.app.resolve_alert(
        recorded.alert_id, outcome=Outcome.SAFE, note="called back, all fine", by="dsl:dsl1"
    )
    return recorded.alert_id


def delete_events(world: World, originator_id: UUID, from_version: int) -> None:
    """What someone with database access might do: delete an alert's last events."""
    recorder: Any = world.app.recorder
    table = recorder.events_table_name
    sqlite = type(recorder).__module__.endswith("sqlite")
    mark = "?" if sqlite else "%s"
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE originator_id={mark} AND originator_version>={mark}",
            (originator_id.hex if sqlite else originator_id, from_version),
        )


def test_a_signed_record_verifies_and_its_removed_tail_does_not(world: World) -> None:
    alert_id = a_resolved_sos(world)
    merkle = MerkleLog(world.app.recorder)
    merkle.catch_up()
    head = merkle.sign(KEY, 1_800_000_000_000)
    assert head is not None and head.size == world.app.recorder.max_notification_id()
    assert verify_store(merkle, trusted=[KEY.public]).ok
    # The attack of issue 16: the acknowledgement and resolution removed; the per-stream
    # chain has nothing after them to break, the signed head does.
    delete_events(world, alert_id, 2)
    verdict = verify_store(merkle, trusted=[KEY.public])
    assert not verdict.ok
    assert any("removed" in p for p in verdict.problems)


def test_the_replay_shows_a_removed_tail_once_the_log_has_the_events(world: World) -> None:
    """Issue 16: "the replay shows the alert as never taken". Not any more: the log took
    in the acknowledgement and the resolution, and the store no longer holds them."""
    alert_id = a_resolved_sos(world)
    world.projector.catch_up()
    merkle = MerkleLog(world.app.recorder)
    merkle.catch_up()
    subject = f"alert:{alert_id}"
    before = incident_record(world.app, world.views, subject, merkle=merkle)
    assert before["integrity"]["verified"] and all(r["sealed"] for r in before["events"])
    delete_events(world, alert_id, 2)
    after = incident_record(world.app, world.views, subject, merkle=merkle)
    assert not after["integrity"]["verified"]
    details = [p["detail"] for p in after["integrity"]["problems"]]
    assert sum("gone from the store: removed" in d for d in details) == 2, details


def test_an_export_carries_its_proofs_and_the_signed_head(world: World) -> None:
    alert_id = a_resolved_sos(world)
    a_resolved_sos(world, "m2")  # more record around it
    world.projector.catch_up()
    merkle = MerkleLog(world.app.recorder)
    record = incident_record(
        world.app, world.views, f"alert:{alert_id}", merkle=merkle, key=KEY, with_proofs=True
    )

    exported = json.loads(json.dumps(record, default=str))
    assert len(exported["merkle"]["leaves"]) == len(exported["events"]) >= 3
    verdict = verify_export(exported, trusted=[KEY.public])
    assert verdict.ok, verdict.problems
    # A row changed in the file: its proof is for another event.
    exported["events"][-1]["version"] += 1
    assert not verify_export(exported, trusted=[KEY.public]).ok
    # A row dropped from the proofs: nothing proves it.
    exported["events"][-1]["version"] -= 1
    assert verify_export(exported, trusted=[KEY.public]).ok
    exported["merkle"]["leaves"].pop()
    assert not verify_export(exported, trusted=[KEY.public]).ok


def lonewatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.entrypoints.cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lonewatch_verify_on_sqlite_through_the_command_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    world = a_trust_with_lone_visitors(sqlite_url)
    try:
        first = a_resolved_sos(world)
    finally:
        world.close()
    env = {"LW_DATABASE_URL": sqlite_url, "LW_SIGNING_KEY": KEY.setting()}
    out = cli(env, "verify", "--catch-up", "--save-head", str(tmp_path / "head-1.json"))
    assert "Record verified" in out and "under the head signed" in out

    world = a_trust_with_lone_visitors(sqlite_url)
    try:
        second = a_resolved_sos(world, "m2")
    finally:
        world.close()
    public = cli(env, "signing-key", "public").split()[0]
    out = cli(
        {"LW_DATABASE_URL": sqlite_url},  # the checker holds only the public key
        "verify", "--public-key", public, "--since", str(tmp_path / "head-1.json"),
    )  # fmt: skip
    assert "later events are not yet under a signed head" in out
    export = cli(env, "replay", "--alert", str(second), "--format", "json")
    (tmp_path / "export.json").write_text(export)
    out = cli({}, "verify", "--export", str(tmp_path / "export.json"), "--public-key", public)
    assert "events proven in the record" in out
    out = cli(env, "verify", "--since", str(tmp_path / "head-1.json"))
    assert "extends the earlier head" in out

    database = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM stored_events WHERE originator_id = ?", (first.hex,))
    result = lonewatch(env, "verify")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "RECORD CHECK FAILED" in result.stdout and "removed" in result.stdout


async def test_the_running_service_appends_signs_and_exports_proofs(
    sqlite_url: str, aiohttp_client: Any
) -> None:
    """The `merkle-log` loop follows the store and signs heads; an export made at once
    still proves every event it shows (the export signs a fresh head)."""
    settings = Settings(database_url=sqlite_url, signing_key=KEY.setting(), signing_interval=0.2)
    async with service_in_process(settings, with_mqtt=False) as c:
        with_every_role(c.app)
        recorded = await asyncio.to_thread(Devices(DeviceIntake(c.app)).press, "sos-0001", "s1")
        assert c.merkle is not None
        merkle = c.merkle

        def signed_up_to_now() -> bool:
            head = merkle.latest_head()
            return head is not None and head.size >= (c.app.recorder.max_notification_id() or 0)

        await eventually(
            lambda: signed_up_to_now() or None, timeout=15, what="a head over every event"
        )
        assert c.supervisor.loops["merkle-log"].beats > 0
        await asyncio.to_thread(c.projector.catch_up)
        app = create_app(c, with_mqtt=False)
        app.cleanup_ctx.clear()
        client = await aiohttp_client(app)
        token = await asyncio.to_thread(c.app.issue_token, "dsl1")
        response = await client.get(
            f"/api/v1/timeline/export?alert={recorded.alert_id}&format=json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 200
        exported = await response.json()
        verdict = verify_export(exported, trusted=[KEY.public])
        assert verdict.ok, verdict.problems
        assert len(exported["merkle"]["leaves"]) == len(exported["events"]) > 0
        assert (await asyncio.to_thread(verify_store, merkle, trusted=[KEY.public])).ok
        page = await (
            await client.get(
                f"/api/v1/timeline/export?alert={recorded.alert_id}&format=html",
                headers={"Authorization": f"Bearer {token}"},
            )
        ).text()
        assert exported["merkle"]["head"]["key_id"] in page
        assert "lonewatch verify --export FILE" in page


def test_a_heartbeat_removed_whole_fails_the_record(database_url: str) -> None:
    """A device message is a stream of one event: deleting its row removes the whole
    stream, which no seal chain can show (nothing is left to break). The views' index still
    names it and the log took it in, so the record says it was removed: whole, as of an
    instant after it, and on a cold page as of that instant (found by asof7, 7 Dec 2026)."""
    from service.records.pages import record_page
    from service.records.record_cache import RecordCache
    from service.records.record_shape import Page
    from service.records.whole_checks import WholeChecks
    from tests.integration.test_record_pages import heartbeats

    world = a_trust_with_lone_visitors(database_url)
    try:
        heartbeats(world, 12)
        world.projector.catch_up()
        merkle = MerkleLog(world.app.recorder)
        merkle.catch_up()
        subject = "device:sos-0001"
        before = incident_record(world.app, world.views, subject, merkle=merkle)
        assert before["integrity"]["verified"], before["integrity"]
        gone = before["events"][4]
        stamps = [r["recorded_at"] for r in before["events"]]
        delete_events(world, UUID(gone["aggregate_id"]), 1)
        whole = incident_record(world.app, world.views, subject, merkle=merkle)
        later = incident_record(world.app, world.views, subject, merkle=merkle, as_of=stamps[8])
        for record in (whole, later):
            assert not record["integrity"]["verified"], record["integrity"]
            details = [p["detail"] for p in record["integrity"]["problems"]]
            assert any("removed" in d for d in details), details
        checks = WholeChecks(inline_up_to=5)  # a cold page answers first, checks after
        try:
            cache = RecordCache()
            asked: dict[str, Any] = {
                "as_of": stamps[8],
                "merkle": merkle,
                "zone": UTC,
                "page": Page(limit=5),
                "cache": cache,
                "checks": checks,
            }
            cold = record_page(world.app, world.views, subject, **asked)
            assert cold["integrity"]["verified"] is not True, cold["integrity"]
            checks.wait(subject)
            checked = record_page(world.app, world.views, subject, **asked)
            assert checked["integrity"]["verified"] is False, checked["integrity"]
        finally:
            checks.close()
    finally:
        world.close()
