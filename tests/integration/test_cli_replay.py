"""`lonewatch replay` (INTERFACES.md section 7): the same record, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.domain.alerts.alert import Outcome
from tests.harness import cli, cli_failing
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
    assert "Record verified" in text and "resolved by dsl1 (DSL)" in text
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


def test_replay_takes_the_code_people_read_out_in_any_case(sqlite_url: str) -> None:
    world = a_trust_with_lone_visitors(sqlite_url)
    try:
        recorded = world.press("sos-0001", "cli-code")
        assert recorded.alert_id is not None
    finally:
        world.close()
    env = {"LW_DATABASE_URL": sqlite_url}
    code = recorded.alert_id.hex[:6].upper()
    record = json.loads(cli(env, "replay", "--alert", code, "--format", "json"))
    assert record["subject"] == {"alert": str(recorded.alert_id)}
    spoken = f"{code[:2]} {code[2:4]}-{code[4:].lower()}"
    assert json.loads(cli(env, "replay", "--alert", spoken, "--format", "json"))["subject"] == {
        "alert": str(recorded.alert_id)
    }
    unknown = "000000" if not code.startswith("000000") else "FFFFFF"
    refused = cli_failing(env, "replay", "--alert", unknown)
    assert f"no alert has the code {unknown}" in refused
    assert "is not an alert code" in cli_failing(env, "replay", "--alert", "72EB")


def test_a_command_on_a_missing_store_says_so_and_makes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "lonewatch.sqlite3"
    said = cli_failing({"LW_DATABASE_URL": f"sqlite:///{missing}"}, "replay", "--alert", "72EBB3")
    assert f"no store at {missing}" in said
    assert not missing.parent.exists()


@pytest.mark.parametrize("command", [("token", "list"), ("serve",)])
def test_a_database_that_is_not_there_is_one_line_saying_what_to_check(
    command: tuple[str, ...],
) -> None:
    """A business manager's typo in LW_DATABASE_URL (or PostgreSQL not started) printed a
    fifty-line psycopg traceback and nothing about what to check."""
    from tests.conftest import free_port

    url = f"postgresql://postgres:not-shown@127.0.0.1:{free_port()}/lonewatch"
    told = cli_failing({"LW_DATABASE_URL": url}, *command)
    assert "Traceback" not in told, told
    [line] = [t for t in told.splitlines() if t.startswith("lonewatch: ")]
    assert "cannot open the event store at 127.0.0.1:" in line and "LW_DATABASE_URL" in line
    assert "pg_isready" in line and "not-shown" not in told


@pytest.mark.parametrize("held", ["LW_HTTP_ADDR", "LW_EMBEDDED_MQTT_PORT"])
def test_a_port_another_program_holds_is_one_line_naming_the_setting(
    held: str, tmp_path: Path
) -> None:
    """`make run` with something already on 8080 (or 1884) ended in a traceback."""
    import socket

    from tests.conftest import free_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"LW_HTTP_ADDR": free_port(), "LW_EMBEDDED_MQTT_PORT": free_port(), held: port}
        env = {
            "LW_DATABASE_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}",
            "LW_HTTP_ADDR": f"127.0.0.1:{ports['LW_HTTP_ADDR']}",
            "LW_EMBEDDED_MQTT_PORT": str(ports["LW_EMBEDDED_MQTT_PORT"]),
        }
        told = cli_failing(env, "serve")
    [line] = [t for t in told.splitlines() if t.startswith("lonewatch: ")]
    assert "already in use" in line and f"set {held} to a free one" in line, line
