"""People as the console shows them: "dsl1 (DSL)", "Rob Ross", never `dsl:dsl1` or `staff:r-ross`.

The rules are the domain's: `person` and `people_named` (service/domain/people/naming.py, as
the audit trail and the texts name people) and `named` (service/records/as_it_stood.py: a visitor by name). This
module only applies them to what the API hands the console: a document gains `people`, each
recorded actor it holds worded, so the pages look names up and never word a role themselves;
sentences the domain words with recorded ids (a visit's before-visit checks, an alert's
resolution note) name the people in them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from projections.visit_timeline import how_words
from service.domain.people.naming import people_named
from service.records.as_it_stood import named

_ACTOR = re.compile(r"[a-z_]+:[\w.@+-]+")
_VISITOR = re.compile(r"\bstaff:([\w.@+-]+)")


def visitors_of(doc: Mapping[str, Any]) -> dict[str, str]:
    """{staff id: name} of the visitors a visit or an alert document names."""
    staff, names = doc.get("staff"), doc.get("staff_names")
    found: dict[str, str] = {}
    if isinstance(staff, list) and isinstance(names, list):
        found.update(zip((str(s) for s in staff), (str(n) for n in names), strict=False))
    elif isinstance(staff, str) and doc.get("staff_name"):
        found[staff] = str(doc["staff_name"])
    visit = doc.get("visit")
    for visitor in (visit.get("visitors") or []) if isinstance(visit, Mapping) else []:
        if isinstance(visitor, Mapping) and visitor.get("id") and visitor.get("name"):
            found[str(visitor["id"])] = str(visitor["name"])
    return found


def people_in(value: Any, visitors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every recorded actor (`role:username`) among the values of `value`, worded."""
    found: dict[str, str] = {}
    as_visit = {"staff": list(visitors or {}), "staff_names": list((visitors or {}).values())}

    def walk(item: Any) -> None:
        if isinstance(item, str):
            if item not in found and _ACTOR.fullmatch(item):
                words = named(item, as_visit)
                if words != item:
                    found[item] = words
        elif isinstance(item, Mapping):
            for inner in item.values():
                walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    walk(value)
    return found


def sentence(text: str, visitors: Mapping[str, str]) -> str:
    """A recorded sentence with its people named: visitors by name, others by `person`."""
    text = _VISITOR.sub(lambda m: visitors.get(m.group(1), m.group(0)), text)
    return people_named(text)


def with_people(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (a copy) and `people`: {actor: words} for every actor in it; an alert's
    resolution note as the record words it (`note_words`: people named, no message ids); a
    follow-up's `assignee_name` (a visitor by name)."""
    visitors = visitors_of(doc)
    shown = {**doc, "people": people_in(doc, visitors)}
    if isinstance(doc.get("note"), str):
        shown["note_words"] = sentence(how_words(doc["note"]), visitors)
    if isinstance(doc.get("assignee"), str):  # a follow-up's: a visitor's staff id, or a user
        shown["assignee_name"] = visitors.get(doc["assignee"], doc["assignee"])
    return shown


def visit_with_people(doc: dict[str, Any]) -> dict[str, Any]:
    """A visit as the board shows it: `people`, and its before-visit checks naming people
    (the checks name visitors by staff id: "waiting for p-patel" is "waiting for Priya Patel")."""
    policy = doc.get("policy")
    visitors = visitors_of(doc)
    if isinstance(policy, dict) and policy.get("checks"):
        ids = (
            re.compile(
                r"(?<![\w:.-])("
                + "|".join(map(re.escape, sorted(visitors, key=len, reverse=True)))
                + r")(?![\w-])"
            )
            if visitors
            else None
        )

        def words(text: str) -> str:
            text = sentence(text, visitors)
            return ids.sub(lambda m: visitors[m.group(1)], text) if ids else text

        checks = [
            {
                k: words(v) if k in ("done", "needed") and isinstance(v, str) else v
                for k, v in c.items()
            }
            for c in policy["checks"]
        ]
        missing = {
            key: [words(t) if isinstance(t, str) else t for t in policy.get(key) or []]
            for key in ("missing_before_authorisation", "missing_before_departure")
        }
        doc = {**doc, "policy": {**policy, "checks": checks, **missing}}
    return with_people(doc)
