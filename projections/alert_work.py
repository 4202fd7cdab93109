"""Read models of the console's own work: notes and handovers on an alert's document
(so the feed's card shows them, live), and users managed in the console in the audit
trail. Pure functions of an event and the documents it touches, as projections/views.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.core import Doc, Effects, Reader, event_name


def _worked(event: Any, read: Reader, fx: Effects) -> None:
    """`work`: the notes and handovers in the order recorded; `handed_to`: who holds it."""
    alert_id = str(event.originator_id)
    existing = read("alert", alert_id)
    if existing is None:
        return
    doc = dict(existing)
    at = event.timestamp.isoformat()
    entry: Doc = {"by": event.by, "at": at}
    if event_name(event) == "Alert.HandedOver":
        # `texted`: whether the colleague was to be texted (HandoverText), None for a
        # handover recorded before it said so.
        entry.update(kind="handover", to=event.to, text=event.note)
        entry["texted"] = getattr(event, "texted", None)
        doc["handed_to"] = event.to
        doc["handed_at"] = at
    else:
        entry.update(kind="note", text=event.text)
    doc["work"] = [*(doc.get("work") or []), entry]
    doc["updated_at"] = at
    fx.docs[("alert", alert_id)] = doc
    fx.subjects.append(f"alert:{alert_id}")


_USER_ACTIONS = {
    "User.Registered": "user_invited",
    "User.Changed": "user_role_changed",
    "User.Disabled": "user_disabled",
    "User.Enabled": "user_enabled",
    "User.PasswordLinkIssued": "user_password_link",
    "User.PasswordSet": "user_password_set",
}


def _user(event: Any, read: Reader, fx: Effects) -> None:
    """Keep who each user is (`user` documents), and put every console change of a user
    in the audit trail, with who made it."""
    user_id = str(event.originator_id)
    name = event_name(event)
    known = dict(read("user", user_id) or {})
    if name in ("User.Registered", "User.Updated", "User.Changed"):
        if name == "User.Registered":
            known["username"] = event.username
        known.update(role=event.role, school=event.school)
        fx.docs[("user", user_id)] = known
    if name == "User.Registered" and not getattr(event, "invited_by", None):
        return  # listed in the directory file: its import is not a person's action
    if name == "User.Updated":
        return
    username = str(known.get("username") or user_id)
    actor = getattr(event, "invited_by", None) or getattr(event, "by", None)
    if actor is None:  # a password chosen: by the user themselves
        actor = f"{known.get('role', 'user')}:{username}"
    fx.docs[("audit", f"{user_id}:{event.originator_version}")] = {
        "id": f"{user_id}:{event.originator_version}",
        "at": event.timestamp.isoformat(),
        "actor": actor,
        "role": actor.partition(":")[0],
        "school": known.get("school"),
        "action": _USER_ACTIONS[name],
        "subject": f"user:{username}",
        "detail": _detail(event, name),
        "record": user_id,
        "version": event.originator_version,
    }
    fx.subjects.append("audit")


def _detail(event: Any, name: str) -> str:
    if name in ("User.Registered", "User.Changed"):
        where = f"{event.role}" + (f" at {event.school}" if event.school else ", every school")
        return where + _mobile_words(getattr(event, "phone", None))
    if name == "User.Disabled":
        return str(event.reason or "")
    if name == "User.PasswordLinkIssued":
        kind = "password reset: old password and sessions ended" if event.reset else "invitation"
        return f"{kind}; one-time link until {event.expires_at.isoformat()}"
    return ""


def _mobile_words(phone: str | None) -> str:
    """Whether the change gave or removed a mobile; never the number itself (the users page
    shows it to admins; the audit trail is read more widely). None: the mobile untouched."""
    if phone is None:
        return ""
    return "; mobile given" if phone else "; mobile removed"


ALERT_WORK_HANDLERS: dict[str, Callable[[Any, Reader, Effects], None]] = {
    "Alert.NoteAdded": _worked,
    "Alert.HandedOver": _worked,
    "User.Registered": _user,
    "User.Updated": _user,
    "User.Changed": _user,
    "User.Disabled": _user,
    "User.Enabled": _user,
    "User.PasswordLinkIssued": _user,
    "User.PasswordSet": _user,
}
