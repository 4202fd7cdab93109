"""A trust's JSON API served in-process to aiohttp's test client, and what the API tests
say to it: a user's bearer header, a visit plan's body, an action on a visit, a text
through the signed Twilio webhook.

The tests of visits, policy, confidentiality, tasks and history over HTTP all stand the
same service up the same way; each names here only what it varies on purpose (the store,
the clock, the directory, whether every console role is added)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from service.bootstrap import create_app
from service.clock import Clock
from service.config import Settings
from service.container import Container
from tests.console_world import with_every_role
from tests.harness import REPO, service_in_process
from tests.visit_worlds import HAZARDS, at
from tests.worlds import DIRECTORY

Client = TestClient[Any, Any]
Api = tuple[Client, Container]
DEMO_DIRECTORY = REPO / "deploy" / "demo-directory.yaml"
"""The trust a new install is shown: schools configured like real policies."""
PUBLIC_URL = "https://lonewatch.example.org"
TWILIO_TOKEN = "test-auth-token"
SERVICE_NUMBER = "+441702999999"


@contextlib.asynccontextmanager
async def trust_api(
    aiohttp_client: Any,
    settings: Settings,
    *,
    clock: Clock | None = None,
    directory: Path = DIRECTORY,
    every_role: bool = False,
) -> AsyncIterator[Api]:
    """The service on `clock` (else the real one) over `directory`, its routes served to a
    test client. No MQTT: devices are heard through the container's intake. `every_role`
    adds a headteacher, an admin and another school's DSL, with passwords
    (tests/console_world.py)."""
    async with service_in_process(
        settings, clock=clock, directory=directory, with_mqtt=False
    ) as container:
        if every_role:
            with_every_role(container.app)
        app = create_app(container, with_mqtt=False)
        app.cleanup_ctx.clear()  # service_in_process runs the background already
        yield await aiohttp_client(app), container


def as_(container: Container, user: str) -> dict[str, str]:
    """Headers that make a request `user`'s."""
    return {"Authorization": f"Bearer {container.app.issue_token(user)}"}


def a_plan(
    school: str = "lancaster",
    staff: str = "s-jones",
    *,
    start: datetime | None = None,
    hazards: list[dict[str, Any]] | None = HAZARDS,
    **changes: Any,
) -> dict[str, Any]:
    """A plan-visit body: `staff` out from `start` (Monday 09:30) for three quarters of an
    hour, back a quarter after; risk assessed with `hazards` unless that is None."""
    start = start or at(9, 30)
    plan: dict[str, Any] = {
        "school": school,
        "staff": staff,
        "pupil_ref": "UPN-0042",
        "address": "12 Mountdale Gardens, Leigh-on-Sea",
        "purpose": "attendance",
        "planned_start": start.isoformat(),
        "expected_leave": (start + timedelta(minutes=45)).isoformat(),
        "expected_return": (start + timedelta(hours=1)).isoformat(),
    }
    if hazards is not None:
        plan["hazards"] = hazards
    return {**plan, **changes}


async def act(
    client: Client, visit: str, action: str, who: dict[str, str], **body: Any
) -> ClientResponse:
    """POST /api/v1/visits/{visit}/{action} as `who`, with `body`."""
    return await client.post(f"/api/v1/visits/{visit}/{action}", json=body, headers=who)


def texting(database_url: str) -> Settings:
    """Settings with Twilio configured, so the signed SMS webhook is served; its REST API
    points nowhere (nothing these tests do sends)."""
    return Settings(
        database_url=database_url,
        public_url=PUBLIC_URL,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=SERVICE_NUMBER,
        twilio_api_base="http://127.0.0.1:9",
    )


async def text(
    client: Client, sender: str, body: str, sid: str, *, sign: bool = True
) -> ClientResponse:
    """A text from `sender` as Twilio delivers it to a `texting` service: signed unless not."""
    form = {"From": sender, "To": SERVICE_NUMBER, "Body": body, "MessageSid": sid}
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{PUBLIC_URL}/webhooks/twilio/sms", form
        )
    return await client.post("/webhooks/twilio/sms", data=form, headers=headers)
