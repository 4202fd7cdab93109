"""`lonewatch replay` (INTERFACES.md section 7): the same record, from the command line."""

from __future__ import annotations

import json

from service.domain.alerts.alert import Outcome
from tests.harness import cli
from tests.worlds import a_trust_with_lone_visitors


def test_replay_prints_a_verified_record_as_html_and_json_and_is_audited(sqlite_url: str) -> None:
    world = a_trust_with_lone_visitors(sqlite_url)
    try:
        recorded = world.press("sos-0001", "cli-1")
        assert recorded.alert_id is not None
        world.app.resolve_alert(
            recorded.alert_id, outcome=Outcome.SAFE, note="rang back, all fine", by="dsl:dsl1"
        )
    finally:
        world.close()
    env = {"LW_DATABASE_URL": sqlite_url}
    alert = str(recorded.alert_id)
    page = cli(env, "replay", "--alert", alert, "--format", "html")
    assert page.startswith("<!doctype html>") and "Record verified" in page
    assert "rang back, all fine" in page
    record = json.loads(cli(env, "replay", "--alert", alert, "--format", "json"))
    assert record["integrity"]["verified"] and record["exported_by"].startswith("cli:")
    text = cli(env, "replay", "--alert", alert)
    assert "Record verified" in text and "resolved by dsl:dsl1" in text
    world = a_trust_with_lone_visitors(sqlite_url)
    try:
        world.projector.catch_up()
        trail = world.views.find("audit")
        assert sorted(a["detail"] for a in trail if a["action"] == "replay_cli") == [
            "format=html",
            "format=json",
            "format=text",
        ]
    finally:
        world.close()
