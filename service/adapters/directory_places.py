"""Where in the directory file a problem is, said the way the person editing it counts.

The reader names a place as a path (`staff[1].safe_word`); a school business manager
fixing the file needs the line in their editor and the entry by its id, counted from 1:
`people.yaml line 14, staff "p-patel" (2nd): safe_word: ...`. YAML's node marks give the
lines; the parsed data gives the ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

Place = tuple[str | int, ...]
"""A place in the parsed data: mapping keys and (0-based) list positions."""

_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_ENTRY_NAMES = {
    "schools": "school",
    "staff": "staff",
    "devices": "device",
    "users": "user",
    "contacts": "contact",
    "steps": "step",
}


def split_path(where: str) -> Place:
    """`schools[0].contacts[1].phone` -> ('schools', 0, 'contacts', 1, 'phone')."""
    return tuple(
        int(index) if index else key.strip() for index, key in _STEP.findall(where) if index or key
    )


def join_path(path: Place) -> str:
    """('staff', 1, 'phone') -> `staff[1].phone`, the reader's own way of naming a place."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f"{'.' if text else ''}{step}"
    return text


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def line_numbers(root: yaml.Node) -> tuple[dict[Place, int], list[tuple[Place, str]]]:
    """The 1-based line of every key and list item under `root`, and the keys a mapping
    gives twice (YAML keeps the last silently, so a corrected line can be undone by a
    stale one below it)."""
    lines: dict[Place, int] = {(): root.start_mark.line + 1}
    repeated: list[tuple[Place, str]] = []

    def walk(node: yaml.Node, path: Place) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    continue
                here = (*path, key)
                if key in seen:
                    repeated.append((here, "is given twice here; YAML would keep only the last"))
                seen.add(key)
                lines[here] = key_node.start_mark.line + 1
                walk(value_node, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(root, ())
    return lines, repeated


def describe(
    path: Place,
    data: object,
    *,
    source: str | None = None,
    lines: Mapping[Place, int] | None = None,
) -> str:
    """The words that lead a problem's message: file, line, the entries by id and their
    position counted from 1, then the field (`people.yaml line 14, staff "p-patel" (2nd):
    safe_word`)."""
    parts: list[str] = []
    field: list[str] = []
    node: Any = data
    for step in path:
        if isinstance(step, int):
            label = _ENTRY_NAMES.get(str(field[-1]) if field else "", "")
            named = _name_of(node[step] if isinstance(node, list) and step < len(node) else None)
            if label and len(field) == 1:
                parts.append(f"{label}{f' {named}' if named else ''} ({ordinal(step + 1)})")
            else:
                parts.append(f"{'.'.join(field)} ({ordinal(step + 1)})")
            field = []
        else:
            field.append(step)
        node = _child(node, step)
    at = [source] if source else []
    line = line_of(path, lines) if lines else None
    if line is not None:
        at.append(f"line {line}")
    lead = ", ".join(p for p in (" ".join(at), *parts) if p)
    tail = ".".join(field)
    if lead and tail:
        return f"{lead}: {tail}"
    return lead or tail or "the file"


def _child(node: object, step: str | int) -> object:
    if isinstance(step, int):
        return node[step] if isinstance(node, list) and step < len(node) else None
    return node.get(step) if isinstance(node, dict) else None


def _name_of(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    value = entry.get("id", entry.get("username"))
    return f'"{value}"' if isinstance(value, str | int) and not isinstance(value, bool) else None


def line_of(path: Place, lines: Mapping[Place, int]) -> int | None:
    """The line of the place itself or, for a missing key, of the nearest entry holding it."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def problems_text(
    problems: list[tuple[str, str]],
    data: object,
    name: str,
    source: str | None,
    lines: Mapping[Place, int] | None,
) -> str:
    """Every problem on its own line, in the order of the file, each saying where it is."""
    placed = []
    for n, (where, message) in enumerate(problems):
        path = split_path(where)
        line = line_of(path, lines) if lines else None
        place = describe(path, data, source=source, lines=lines)
        placed.append((line or 0, n, f"{place}: {message}"))
    count = len(placed)
    heading = (
        f"{name} has {count} problem{'s' if count != 1 else ''}; nothing was imported. "
        "Lines and entries are counted from 1:"
    )
    return "\n  ".join([heading, *(text for _, _, text in sorted(placed))])
