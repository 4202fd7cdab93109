"""Commands other packages add to `lonewatch`, found by name and never imported here.

`lonewatch simulate ...` (INTERFACES.md section 7) belongs to the simulators: they declare
it in pyproject.toml's `lonewatch.commands` entry point group as "module:function", a
function that attaches its subcommands to the root parser. The service imports no
simulator (import-linter: service-not-simulators) and finds it at run time.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

COMMANDS_GROUP = "lonewatch.commands"
SOURCE_PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def declared_commands(pyproject: Path = SOURCE_PYPROJECT) -> dict[str, str]:
    """The group as a source tree's pyproject.toml declares it (empty if there is none)."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return dict(project.get("entry-points", {}).get(COMMANDS_GROUP, {}))


def found_commands() -> dict[str, str]:
    """name -> "module:function": the installed entry points of the group; else, running
    from a source tree whose metadata predates the group, what its pyproject.toml says."""
    installed = {ep.name: ep.value for ep in entry_points(group=COMMANDS_GROUP)}
    return installed or declared_commands()


def add_found_commands(sub: Any, commands: dict[str, str] | None = None) -> None:
    """Let each found package attach its commands to the root parser's subcommands `sub`.
    A package that cannot be imported is named on stderr; the other commands still work."""
    for name, target in sorted((found_commands() if commands is None else commands).items()):
        module, _, function = target.partition(":")
        try:
            add = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as exc:
            print(f"lonewatch: the {name!r} commands are unavailable: {exc}", file=sys.stderr)
            continue
        add(sub)
