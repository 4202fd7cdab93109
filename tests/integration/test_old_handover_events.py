"""A handover stored before handovers recorded whether the colleague was texted still loads
and reads as it always did: the alert, its timeline and the DSL's printed record (which
also checks every stored event's seal against the bytes as stored). The bytes below are
exactly what the service wrote (commit 2aeba62, before `texted`) for an SOS taken by
reception1 and handed to dsl1 with a note."""

from __future__ import annotations

import asyncio
from typing import Any

from eventsourcing.persistence import StoredEvent

from service.domain.ids import alert_id
from tests.integration import test_alert_work_and_users as alert_work
from tests.integration.test_alert_work_and_users import bearer

api = alert_work.api  # the service in process over HTTP, every role signed up

OLD_EVENTS = (
    (
        1,
        "service.domain.alerts.alert:Alert.Raised",
        b'LWS1s\xfa/f\x8f+\x9bDO\xee\xff\x0f\x18k\x90\xc64\xb1\x84\x9c`\xc2\x86~\x1dR?I\xa7\xd8\xbf[{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T15:00:00+00:00"},"originator_topic":"service.domain.alerts.alert:Alert","key":"message:old-1","kind":"sos","school":"lancaster","device":"sos-0001","staff":"s-jones","cause":{},"silent":false}',
    ),
    (
        2,
        "service.domain.alerts.alert:Alert.Acknowledged",
        b'LWS1\x16\xd7a\x8b=\xb8dv\xfd/\xac\xde\xc6\x8c;\x0b\x1f\xc5T\x14+\xd4\xc7c7f\x84TO\x03\x9f\x03{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T15:00:00+00:00"},"by":"operator:reception1","via":"console"}',
    ),
    (
        3,
        "service.domain.alerts.alert:Alert.HandedOver",
        b'LWS1\xfe\x9e>\xaa\x90\xb84\xbf\x98\xba\x1e\x86]\xef\x1d\xb0\x8e\r\xf1\xbd\x1dh\x19+\xe6\x95\x0f\xb4o\xee]\x99{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T15:04:00+00:00"},"by":"operator:reception1","to":"dsl:dsl1","note":"police on the way"}',
    ),
)
OLD_HANDOVER = "reception1 (contact centre) handed the alert to dsl1 (DSL) - police on the way"


async def test_a_handover_stored_before_it_said_whether_it_texted_reads_as_before(
    api: Any,
) -> None:
    client, c = api
    old = alert_id("message:old-1")
    stored = [StoredEvent(old, v, topic, state) for v, topic, state in OLD_EVENTS]
    await asyncio.to_thread(c.app.recorder.insert_events, stored)
    await asyncio.to_thread(c.projector.catch_up)

    alert = c.app.alert(old)
    assert alert.handed_to == "dsl:dsl1" and alert.acknowledged_by == "operator:reception1"
    doc = c.views.get("alert", str(old))
    assert doc is not None
    [handover] = [w for w in doc["work"] if w["kind"] == "handover"]
    assert handover["texted"] is None  # not recorded then: the card infers, as before

    dsl = bearer(c, "dsl1")
    timeline = await (await client.get(f"/api/v1/timeline?alert={old}", headers=dsl)).json()
    [said] = [r["summary"] for r in timeline["events"] if "handed the alert" in r["summary"]]
    assert said == OLD_HANDOVER
    printed = await client.get(f"/api/v1/timeline/export?alert={old}&format=html", headers=dsl)
    record = await printed.text()
    assert printed.status == 200 and OLD_HANDOVER in record
    assert "Record verified." in record and "texted" not in record
