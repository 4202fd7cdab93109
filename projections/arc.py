"""What was sent to a school's alarm receiving centre: each `ArcMessage` event goes on its
alert's timeline (and, once raised, on the `arc_unreachable` alert's), and an `arc` document
says which messages are still waiting for the ARC's ACK (so a restart resumes them)."""

from __future__ import annotations

from typing import Any

from projections.core import Doc, Effects, Reader, event_name


def _arc_message(event: Any, read: Reader, fx: Effects) -> None:
    name = event_name(event)
    message_id = str(event.originator_id)
    at = event.timestamp.isoformat()
    if name == "ArcMessage.Requested":
        doc: Doc = {
            "id": message_id,
            "alert_id": str(event.alert_id),
            "school": event.school,
            "code": event.code,
            "state": "sending",
            "tries": 0,
            "requested_at": at,
            "unreachable_alert": None,
        }
    else:
        existing = read("arc", message_id)
        if existing is None:
            return
        doc = dict(existing)
        if name == "ArcMessage.Tried":
            doc.update(tries=event.attempt, last_answer=event.answer, last_try_at=at)
            if event.acknowledged and doc["state"] != "acknowledged":
                doc.update(state="acknowledged", acknowledged_at=at)
        elif name == "ArcMessage.Unreachable":
            doc["unreachable_alert"] = str(event.alert)
    fx.docs[("arc", message_id)] = doc
    fx.subjects.append(f"alert:{doc['alert_id']}")
    if doc.get("unreachable_alert"):
        fx.subjects.append(f"alert:{doc['unreachable_alert']}")
    alert = read("alert", doc["alert_id"])
    if alert is not None:  # the console shows the ARC's answer beside the notifications
        alert = dict(alert)
        alert["arc"] = {
            **dict(alert.get("arc") or {}),
            doc["code"]: {
                "state": doc["state"],
                "tries": doc["tries"],
                "answer": doc.get("last_answer"),
            },
        }
        fx.docs[("alert", doc["alert_id"])] = alert


ARC_HANDLERS = {
    "ArcMessage.Requested": _arc_message,
    "ArcMessage.Tried": _arc_message,
    "ArcMessage.Unreachable": _arc_message,
}
ARC_FILTER_COLUMNS: dict[str, tuple[str | None, str | None]] = {"arc": ("school", "state")}
