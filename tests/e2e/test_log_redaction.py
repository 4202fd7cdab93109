"""Nothing secret or personal reaches the log (issue 16): a whole scenario on the real
service, over PostgreSQL and Mosquitto, in both log formats, then every line scanned for
every secret and reference the scenario used.

The scenario: passwords set and used at the console (and a wrong one), bearer tokens
(and a made-up one), console sessions and their CSRF tokens, live streams opened and
dropped mid-stream, a visit planned with a pupil reference and a visit safe word, a
staff text carrying their safe word, an SOS whose SMS bodies go through the real twilio
library, an alert resolved with a note.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from simulators.twilio_double import TwilioDouble
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.e2e.conftest import Stack, wait_healthy
from tests.harness import REPO, Device, cli, eventually, forget_session, service_process
from tests.visit_worlds import HAZARDS, VISITS_DIRECTORY

ACCOUNT = "AC" + "10d5" * 8
AUTH = "redaction-auth-token-77"
PASSWORD = "correct horse battery 51"
WRONG_PASSWORD = "wrong-password-horse-93"
PUPIL_REF = "UPN-7731"
VISIT_SAFE_WORD = "lighthouse-q9"
STAFF_SAFE_WORD = "bluebird"  # s-jones's, in the directory file
DEVICE_SECRET = "change-me-3"
NOTE = "spoke to Mrs Example at the door"
MADE_UP_TOKEN = "lw_" + "Zq" * 22


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble(ACCOUNT, AUTH) as d:
        yield d


@pytest.fixture(params=["console", "json", "json+console-notifier"])
def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    topic_prefix: str,
    run_id: str,
    double: TwilioDouble,
    postgres_url: str,
    mosquitto_url: str,
) -> Any:
    http_port = free_port()
    env = {
        "LW_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "LW_DIRECTORY": str(VISITS_DIRECTORY),
        "LW_DATABASE_URL": postgres_url,
        "LW_MQTT_URL": mosquitto_url,
        "LW_MQTT_TOPIC_PREFIX": topic_prefix,
        "LW_MQTT_CLIENT_ID": f"lw-redact-{run_id}",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_FROM_NUMBER": "+441702999999",
        "LW_TWILIO_API_BASE": double.base_url,
        "LW_POLL_INTERVAL": "0.2",
        "LW_LOG_FORMAT": request.param.split("+")[0],
    }
    if request.param.endswith("console-notifier"):
        # Without Twilio, each SMS and call is logged by the console notifier instead.
        for twilio in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
            del env[twilio]
    cli(env, "directory", "import", str(VISITS_DIRECTORY))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "service.entrypoints.cli.main",
            "user",
            "password",
            "reception1",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    yield (
        request.param,
        Stack(
            env,
            f"http://127.0.0.1:{http_port}",
            MOSQUITTO_HOST,
            MOSQUITTO_PORT,
            topic_prefix,
            double,
            tmp_path / "service.log",
        ),
    )
    forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, env["LW_MQTT_CLIENT_ID"])


async def _drop_a_stream(session: aiohttp.ClientSession, url: str, **kw: Any) -> None:
    """Open the live stream, read its first bytes, and hang up mid-stream."""
    response = await session.get(url, **kw)
    assert response.status == 200
    await response.content.readline()
    response.close()  # the connection goes, not the request: as a closed laptop does


async def _scenario(stack: Stack, double: TwilioDouble) -> set[str]:
    """Run everything that handles a secret; return every secret it used or produced."""
    twilio = "TWILIO_AUTH_TOKEN" in stack.env
    secrets = {
        PASSWORD,
        WRONG_PASSWORD,
        PUPIL_REF,
        VISIT_SAFE_WORD,
        STAFF_SAFE_WORD,
        DEVICE_SECRET,
        NOTE,
        AUTH,
        MADE_UP_TOKEN,
    }
    dsl_token = stack.token("dsl1")
    reception_token = stack.token("reception1")
    secrets |= {dsl_token, reception_token}
    dsl = {"Authorization": f"Bearer {dsl_token}"}
    origin = {"Origin": stack.http}
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser, aiohttp.ClientSession() as api:
        refused = await browser.post(
            f"{stack.http}/console/login",
            data={"username": "reception1", "password": WRONG_PASSWORD},
            headers=origin,
            allow_redirects=False,
        )
        assert refused.status == 401
        signed = await browser.post(
            f"{stack.http}/console/login",
            data={"username": "reception1", "password": PASSWORD},
            headers=origin,
            allow_redirects=False,
        )
        assert signed.status == 303
        cookie = signed.cookies["lw_session"].value
        session = await (await browser.get(f"{stack.http}/api/v1/session")).json()
        secrets |= {cookie, session["csrf_token"]}

        plan = {
            "school": "lancaster",
            "staff": "s-jones",
            "pupil_ref": PUPIL_REF,
            "address": "12 Mountdale Gardens, Leigh-on-Sea",
            "purpose": "attendance",
            "planned_start": "2030-01-07T09:30:00+00:00",
            "expected_leave": "2030-01-07T10:15:00+00:00",
            "expected_return": "2030-01-07T10:30:00+00:00",
            "safe_word": VISIT_SAFE_WORD,
            "hazards": HAZARDS,
        }
        planned = await api.post(f"{stack.http}/api/v1/visits", json=plan, headers=dsl)
        assert planned.status == 201, await planned.text()
        visit = await planned.json()
        read = await api.get(f"{stack.http}/api/v1/visits/{visit['id']}", headers=dsl)
        assert read.status == 200

        stream = f"{stack.http}/api/v1/stream"
        for _ in range(3):
            await _drop_a_stream(
                api, stream, headers={"Authorization": f"Bearer {reception_token}"}
            )
            await _drop_a_stream(browser, stream)
        made_up = await api.get(stream, headers={"Authorization": f"Bearer {MADE_UP_TOKEN}"})
        assert made_up.status == 401

        form = {
            "From": "+447700900001",
            "To": "+441702999999",
            "Body": f"all fine here {STAFF_SAFE_WORD}",
            "MessageSid": "SM" + "7" * 32,
        }
        url = f"{stack.http}/webhooks/twilio/sms"
        signature = RequestValidator(AUTH).compute_signature(url, form)
        texted = await api.post(url, data=form, headers={"X-Twilio-Signature": signature})
        assert texted.status == (200 if twilio else 403)  # without Twilio nothing is signed

        device = await Device.connect(
            stack.mqtt_host, stack.mqtt_port, stack.prefix, "sos-0001", f"fob-{id(stack)}"
        )
        try:
            await device.send("sos", {"id": "press-1", "text": "help at the door"})
            command = await eventually(lambda: device.commands, what="alert_received")
        finally:
            device.close()
        alert_id = command[0]["alert_id"]
        if twilio:
            await double.wait_for_messages(1, timeout=15)
        else:
            await eventually(
                lambda: "notification_console" in stack.log.read_text(), what="a console SMS"
            )
        took = await api.post(
            f"{stack.http}/api/v1/alerts/{alert_id}/acknowledge",
            headers={"Authorization": f"Bearer {reception_token}"},
        )
        assert took.status == 200, await took.text()
        closed = await api.post(
            f"{stack.http}/api/v1/alerts/{alert_id}/resolve",
            json={"outcome": "false_alarm", "note": NOTE},
            headers={"Authorization": f"Bearer {reception_token}"},
        )
        assert closed.status == 200, await closed.text()
        await asyncio.sleep(0)  # let the service log what it does after answering
    secrets |= {m["form"]["Body"] for m in double.messages}
    secrets |= {m["form"]["To"] for m in double.messages}  # a phone number is personal data
    secrets.add(form["From"])
    if not twilio:  # the console notifier's bodies: the alert message and the contacts told
        secrets |= {"SOS pressed - Sam Jones", "+441702000010", "+441702000011"}
    return secrets


async def test_no_secret_or_reference_reaches_the_log_in_either_format(
    stack: tuple[str, Stack],
) -> None:
    fmt, real = stack
    fmt = fmt.split("+")[0]
    with service_process(real.env, real.log):
        await wait_healthy(real)
        secrets = await _scenario(real, real.double)
    log = real.log.read_text()
    lines = log.splitlines()
    assert any("login" in line for line in lines), "the scenario did not reach the log"
    if fmt == "json":
        parsed = [json.loads(line) for line in lines if line.startswith("{")]
        assert {"login", "login_refused"} <= {p["event"] for p in parsed}
        # Dropped streams are a client going away, not a failure with a traceback.
        assert [p["event"] for p in parsed if "exception" in p] == []
    leaks = {secret: [line for line in lines if secret in line] for secret in secrets}
    assert {s: found[:2] for s, found in leaks.items() if found} == {}
