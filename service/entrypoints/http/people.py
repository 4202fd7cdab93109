"""People as the console shows them: "dsl1 (DSL)", never `dsl:dsl1`.

The rule is the audit trail's and the record's (`person` and `people_named` in
service/records/narrative.py); this module only applies it to what the API hands the
console: a document gains `people`, each recorded actor it holds worded by that rule, so
the pages look names up and never word a role themselves; a visit's before-visit checks,
sentences the domain words with the recorded actor, name the person the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from service.records.narrative import people_named, person

_ACTOR = re.compile(r"[a-z_]+:[\w.@+-]+")


def people_in(value: Any, found: dict[str, str] | None = None) -> dict[str, str]:
    """Every recorded actor (`role:username`) among the values of `value`, worded."""
    found = {} if found is None else found
    if isinstance(value, str):
        if value not in found and _ACTOR.fullmatch(value):
            words = person(value)
            if words != value:
                found[value] = words
    elif isinstance(value, Mapping):
        for item in value.values():
            people_in(item, found)
    elif isinstance(value, list):
        for item in value:
            people_in(item, found)
    return found


def with_people(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` and `people`: {actor: "name (role)"} for every actor in it (a copy)."""
    return {**doc, "people": people_in(doc)}


def visit_with_people(doc: dict[str, Any]) -> dict[str, Any]:
    """A visit as the board shows it: `people`, and its before-visit checks naming people."""
    policy = doc.get("policy")
    if isinstance(policy, dict) and policy.get("checks"):
        checks = [
            {**c, "done": people_named(c["done"])} if isinstance(c.get("done"), str) else c
            for c in policy["checks"]
        ]
        doc = {**doc, "policy": {**policy, "checks": checks}}
    return with_people(doc)
