"""`lonewatch simulate ...` belongs to the simulators; the service's command line finds it by
name (the `lonewatch.commands` entry point group), installed or from a source tree."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from service.entrypoints.cli import found_commands
from service.entrypoints.cli.found_commands import (
    COMMANDS_GROUP,
    add_found_commands,
    declared_commands,
)
from service.entrypoints.cli.main import parser

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_declares_simulate_in_the_group() -> None:
    assert declared_commands(REPO / "pyproject.toml") == {"simulate": "simulators.cli:add_commands"}


def test_simulate_has_its_three_commands_from_the_simulators() -> None:
    args = parser().parse_args(["simulate", "fleet", "--devices", "2", "--rate", "1"])
    assert args.func.__module__ == "simulators.cli"
    for action in ("directory --devices 1", "scenario fall", "fleet --devices 1 --rate 1"):
        assert parser().parse_args(["simulate", *action.split()]).action == action.split()[0]


def test_installed_entry_points_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = importlib.metadata.EntryPoints(
        [importlib.metadata.EntryPoint("simulate", "simulators.cli:add_commands", COMMANDS_GROUP)]
    )
    monkeypatch.setattr(found_commands, "entry_points", lambda group: installed)
    monkeypatch.setattr(found_commands, "SOURCE_PYPROJECT", REPO / "no-such-pyproject.toml")
    assert found_commands.found_commands() == {"simulate": "simulators.cli:add_commands"}


def test_without_metadata_the_source_pyproject_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(found_commands, "entry_points", lambda group: [])
    assert found_commands.found_commands()["simulate"] == "simulators.cli:add_commands"


def test_a_missing_package_is_named_and_the_rest_still_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    root = argparse.ArgumentParser()
    sub = root.add_subparsers(dest="command")
    add_found_commands(
        sub, {"gone": "no_such_package.cli:add_commands", "simulate": "simulators.cli:add_commands"}
    )
    assert "'gone' commands are unavailable" in capsys.readouterr().err
    assert root.parse_args(["simulate", "directory", "--devices", "1"]).action == "directory"
