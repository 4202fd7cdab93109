"""A trust whose console users cover every role, with passwords, served over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from argon2 import PasswordHasher

from service.application import Lonewatch
from service.directory_file import load_directory
from service.domain.directory import Role, UserSpec
from tests.worlds import DIRECTORY

PASSWORD = "correct horse battery"
EXTRA_USERS = (
    UserSpec("head1", "lancaster", Role.HEADTEACHER),
    UserSpec("admin1", None, Role.ADMIN),
    UserSpec("kdsl", "kingsdown", Role.DSL),
)
# Who is who in the authorisation table: (username, role, school).
CALLERS = {
    "staff": "teacher1",
    "operator": "reception1",
    "dsl": "dsl1",
    "headteacher": "head1",
    "admin": "admin1",
    "other school's operator": "kreception",
    "other school's dsl": "kdsl",
}


def with_every_role(app: Lonewatch) -> None:
    """The fixture directory plus a headteacher, an admin and another school's DSL; all
    with the same password (hashed cheaply: these are tests)."""
    directory = load_directory(DIRECTORY)
    app.import_directory(dataclasses.replace(directory, users=(*directory.users, *EXTRA_USERS)))
    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    hashed = hasher.hash(PASSWORD)
    for username in CALLERS.values():
        app.set_password(username, hashed)


async def an_sos(app: Lonewatch, projector: Any, message_id: str, device: str = "sos-0001") -> str:
    recorded = await asyncio.to_thread(
        app.record_device_message,
        device=device,
        kind="sos",
        message_id=message_id,
        device_ts=None,
        fields={"lat": 51.5412, "lon": 0.7104, "acc": 12},
    )
    await asyncio.to_thread(projector.catch_up)
    return str(recorded.alert_id)
