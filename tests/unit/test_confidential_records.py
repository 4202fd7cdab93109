"""The visit records' rule on any record (issue 16): a person's or a device's record holds
the rows of many visits, and a visitor's texts; reception reads neither a pupil's reference
nor a visitor's words in it, and nothing else of it is blanked."""

from __future__ import annotations

from typing import Any

from service.domain.people.access import Principal
from service.domain.people.confidentiality import WITHHELD
from service.domain.people.directory import Role
from service.entrypoints.http.confidential import shown

RECEPTION = Principal(username="reception1", school="lancaster", role=Role.OPERATOR)
DSL = Principal(username="dsl1", school="lancaster", role=Role.DSL)


def a_persons_record() -> dict[str, Any]:
    """Two of s-jones's visits and an app message of theirs, as GET /api/v1/timeline?staff=."""
    return {
        "events": [
            {
                "event": "Visit.Planned",
                "summary": "lone visit planned: Sam Jones to pupil UPN-0042's home",
                "data": {"pupil_ref": "UPN-0042"},
            },
            {
                "event": "Visit.Planned",
                "summary": "lone visit planned: Sam Jones to pupil UPN-0107's home",
                "data": {"pupil_ref": "UPN-0107"},
            },
            {
                "event": "DeviceMessage.Received",
                "summary": 'device sos-0001 sent message: "OK"',
                "data": {"fields": {"text": "OK"}},
            },
            {"event": "Visit.CheckedIn", "summary": "visitor checked in OK from device sos-0001"},
        ]
    }


def test_reception_reads_no_pupils_reference_nor_visitors_words_in_a_persons_record() -> None:
    rows = shown(RECEPTION, {"staff": ["s-jones"]}, a_persons_record())["events"]
    assert [r["summary"] for r in rows] == [
        f"lone visit planned: Sam Jones to pupil {WITHHELD}'s home",
        f"lone visit planned: Sam Jones to pupil {WITHHELD}'s home",
        f'device sos-0001 sent message: "{WITHHELD}"',
        "visitor checked in OK from device sos-0001",  # a visitor's "OK" only in its own row
    ]
    assert rows[2]["data"] == {"fields": {"text": WITHHELD}}


def test_the_dsl_and_the_person_themselves_read_all_of_it() -> None:
    record = a_persons_record()
    assert shown(DSL, {"staff": ["s-jones"]}, record) == record
    sam = Principal(username="s-jones", school="lancaster", role=Role.STAFF)
    assert shown(sam, {"staff": ["s-jones"]}, record) == record
