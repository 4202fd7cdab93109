"""Several `lonewatch serve` processes on one PostgreSQL store and one Mosquitto (shared
subscriptions): each notification is sent once, each retry waits its designed backoff,
and when the process holding the outbox dies another takes over within seconds.

"Exactly one sender, exactly one timer owner": the outbox and timers leases
(service/adapters/leases.py). Asserted at the boundary: the Twilio double's own record
of what reached it, and the store's record of every device message.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from service.adapters.event_inserts import existing_originators
from service.domain import ids
from service.domain.people.sign_in_limits import PAIR_FAILURES
from service.workers.notification_tries import DEFAULT_BACKOFF
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.harness import cli, forget_session
from tests.processes import (
    Fleet,
    Request,
    lease_holders,
    post_json,
    requests_at_double,
    sent_twice,
    twilio_double_process,
    twilio_env,
    wait_for,
)
from tests.worlds import DIRECTORY, World

pytestmark = pytest.mark.mosquitto

DEVICES = 12
HEARTBEATS_PER_SECOND = 60
LOAD_SECONDS = 24.0


def a_school_with_many_fobs(path: Path, fobs: int) -> Path:
    """The test directory's Lancaster School with `fobs` visitors, each with a fob, and a
    ladder that climbs every 3 s (so the timers owner has work while processes die)."""
    data = yaml.safe_load(DIRECTORY.read_text())
    lancaster = data["schools"][0]
    lancaster["policy"]["sos"]["ack_within"] = "3s"
    data["schools"] = [lancaster]
    data["staff"] = [
        {
            "id": f"s-{n:02}",
            "school": "lancaster",
            "name": f"Visitor {n}",
            "phone": f"+4477009{n:05}",
        }
        for n in range(fobs)
    ]
    data["devices"] = [
        {"id": f"fob-{n:02}", "kind": "sos_fob", "staff": f"s-{n:02}", "secret": f"secret-{n}"}
        for n in range(fobs)
    ]
    data["users"] = [u for u in data["users"] if u["school"] == "lancaster"]
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def double(tmp_path: Path) -> Iterator[str]:
    with twilio_double_process(tmp_path / "twilio.log") as base:
        yield base


@pytest.fixture
def fleet(
    postgres_url: str,
    mosquitto_url: str,
    topic_prefix: str,
    run_id: str,
    double: str,
    tmp_path: Path,
) -> Iterator[Fleet]:
    env = {
        "LW_DATABASE_URL": postgres_url,
        "LW_MQTT_URL": mosquitto_url,
        "LW_MQTT_TOPIC_PREFIX": topic_prefix,
        "LW_MQTT_SHARE_GROUP": f"g-{run_id}",
    }
    fleet = Fleet(env, tmp_path, run_id)
    env.update(twilio_env(double, f"http://{fleet.http('a')}"))
    try:
        yield fleet
    finally:
        fleet.stop()
        for name in fleet.ports:
            for suffix in ("", "-alarm"):
                forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, fleet.client_id(name) + suffix)


def device_client(name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(200)
    client.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    client.loop_start()
    return client


def by_notification(requests: list[Request]) -> dict[str, list[Request]]:
    found: dict[str, list[Request]] = defaultdict(list)
    for r in requests:
        found[r.notification].append(r)
    return found


def test_a_retry_waits_its_backoff_though_two_processes_see_it_waiting(
    fleet: Fleet, double: str, postgres_url: str, topic_prefix: str, run_id: str
) -> None:
    """Before the outbox lease, the second process saw a notification waiting between
    tries and tried it at once: three tries within a second. Now only the holder sends,
    and each gap between tries of one notification is at least the designed backoff."""
    cli(fleet.env, "directory", "import", str(DIRECTORY))
    fleet.start("a")
    fleet.start("b")
    # The first three text messages fail (500): two contacts' texts both retry, one twice.
    post_json(f"{double}/_double/behaviour", {"messages": ["fail_500"] * 3})
    device = device_client(f"dev-{run_id}")
    try:
        device.publish(
            f"{topic_prefix}lw/v1/dev/sos-0001/sos", json.dumps({"id": "press-1"}), qos=1
        ).wait_for_publish(10)
    finally:
        device.disconnect()
        device.loop_stop()

    def texts_settled() -> dict[str, list[Request]] | None:
        texts = by_notification([r for r in requests_at_double(double) if r.kind == "messages"])
        ok = [key for key, tries in texts.items() if tries[-1].status < 300]
        return texts if len(texts) >= 2 and len(ok) == len(texts) else None

    texts = wait_for(texts_settled, "both texts sent after their retries", timeout=60)
    retried = 0
    for key, tries in texts.items():
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
        print(f"\nnotification {key[:8]}: {len(tries)} tries, gaps {[round(g, 2) for g in gaps]}")
        for n, gap in enumerate(gaps):
            retried += 1
            assert gap >= DEFAULT_BACKOFF[n] - 0.05, (
                f"try {n + 2} of {key} came {gap:.2f} s after the one before; designed: "
                f"{DEFAULT_BACKOFF[n]} s"
            )
    assert retried == 3, "three failed texts, three retries"
    assert not sent_twice(requests_at_double(double))


def _publish_load(
    topic_prefix: str, run_id: str, stop: threading.Event, published: list[str]
) -> None:
    """Heartbeats at a steady rate from every fob, and each fob's SOS once along the way."""
    device = device_client(f"load-{run_id}")
    infos = []
    try:
        started = time.monotonic()
        n = 0
        while not stop.is_set() and time.monotonic() - started < LOAD_SECONDS:
            fob = f"fob-{n % DEVICES:02}"
            message_id = f"hb-{n}"
            infos.append(
                device.publish(
                    f"{topic_prefix}lw/v1/dev/{fob}/heartbeat",
                    json.dumps({"id": message_id}),
                    qos=1,
                )
            )
            published.append(f"{fob}/{message_id}")
            if n % (HEARTBEATS_PER_SECOND * 2) == 0 and n // (HEARTBEATS_PER_SECOND * 2) < DEVICES:
                sos_fob = f"fob-{n // (HEARTBEATS_PER_SECOND * 2):02}"
                infos.append(
                    device.publish(
                        f"{topic_prefix}lw/v1/dev/{sos_fob}/sos",
                        json.dumps({"id": f"sos-{sos_fob}"}),
                        qos=1,
                    )
                )
                published.append(f"{sos_fob}/sos-{sos_fob}")
            n += 1
            time.sleep(max(0.0, started + n / HEARTBEATS_PER_SECOND - time.monotonic()))
        for info in infos:
            info.wait_for_publish(30)
        assert all(info.is_published() for info in infos), "the broker took every message"
    finally:
        device.disconnect()
        device.loop_stop()


def received_counts(database_url: str) -> Counter[str]:
    """How many times each device message was recorded, by its originator id."""
    world = World(database_url)
    try:
        return Counter(
            str(n.originator_id)
            for n in world.app.recorder.select_notifications(start=1, limit=1_000_000)
            if n.topic.endswith(":DeviceMessage.Received")
        )
    finally:
        world.close()


def notification_states(database_url: str) -> Counter[str]:
    world = World(database_url)
    try:
        return Counter(d["state"] for d in world.views.find("notification", limit=100_000))
    finally:
        world.close()


def test_killing_a_process_and_the_outbox_holder_under_load_loses_and_repeats_nothing(
    fleet: Fleet,
    double: str,
    postgres_url: str,
    topic_prefix: str,
    run_id: str,
    tmp_path: Path,
) -> None:
    cli(
        fleet.env, "directory", "import", str(a_school_with_many_fobs(tmp_path / "d.yaml", DEVICES))
    )
    for name in ("a", "b", "c"):
        fleet.start(name)
    holders = wait_for(lambda: lease_holders(postgres_url), "the leases taken")
    outbox = fleet.name_of(holders["outbox"][0])
    assert outbox is not None, holders
    bystander = next(n for n in ("a", "b", "c") if n != outbox)

    stop = threading.Event()
    published: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            _publish_load(topic_prefix, run_id, stop, published)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    loader = threading.Thread(target=load, name="load")
    loader.start()
    try:
        # A serve process that does not hold the outbox dies; its supervisor restarts it
        # under the same client id (Mosquitto keeps its shared-subscription messages).
        time.sleep(LOAD_SECONDS * 0.25)
        fleet.kill(bystander)
        time.sleep(1.0)
        fleet.start(bystander)
        # Then the process sending the notifications (and, most likely, firing the timers).
        time.sleep(LOAD_SECONDS * 0.2)
        before = lease_holders(postgres_url)["outbox"]
        assert fleet.name_of(before[0]) == outbox, "the outbox stayed with its holder"
        killed_at = fleet.kill(outbox)

        def taken_over() -> tuple[str, int, float] | None:
            now = lease_holders(postgres_url)["outbox"]
            return now if now[1] > before[1] and fleet.name_of(now[0]) != outbox else None

        after = wait_for(taken_over, "another process to take the outbox", timeout=30, every=0.05)
        takeover = time.monotonic() - killed_at
        successor = fleet.name_of(after[0])
        print(f"\noutbox: {outbox} killed, {successor} took over in {takeover:.2f} s")
        live_timers = wait_for(
            lambda: (
                (t := lease_holders(postgres_url)["timers"])[2] > 0
                and fleet.name_of(t[0]) != outbox
                and t
            ),
            "a live process holding the timers",
            timeout=30,
            every=0.05,
        )
        print(
            f"timers: held by {fleet.name_of(live_timers[0])} "
            f"{time.monotonic() - killed_at:.2f} s after the kill"
        )
        time.sleep(1.0)
        fleet.start(outbox)
        loader.join(LOAD_SECONDS + 60)
    finally:
        stop.set()
        loader.join(60)
    assert not errors, errors

    # Health, at any process, names the holder the store names.
    assert successor is not None
    health = fleet.health(bystander)
    assert health is not None
    assert health["checks"]["leases"]["outbox"]["holder"] == after[0]
    assert health["checks"]["loops"]["store-notices"]["running"], "other commits wake the views"
    assert fleet.health(successor)["checks"]["leases"]["outbox"]["held_here"]["held"] is True  # type: ignore[index]

    # 0 messages lost, 0 recorded twice.
    wanted = {ids.device_message_id(*key.split("/")) for key in published}
    world = World(postgres_url)
    try:
        wait_for(
            lambda: existing_originators(world.app.recorder, wanted) == wanted,
            "every published message recorded",
            timeout=60,
            every=0.5,
        )
    finally:
        world.close()
    counts = received_counts(postgres_url)
    twice = {key: n for key, n in counts.items() if n > 1}
    assert not twice, f"recorded more than once: {twice}"
    assert len(wanted) == len(published)

    # 0 notifications sent twice: every notification settles, none reached Twilio twice.
    def settled() -> Counter[str] | None:
        states = notification_states(postgres_url)
        return states if states and not states.get("requested") else None

    states = wait_for(settled, "every notification sent or settled", timeout=90, every=0.5)
    requests = requests_at_double(double)
    print(f"notifications: {dict(states)}; requests at the Twilio double: {len(requests)}")
    assert not sent_twice(requests), "a notification reached Twilio twice"
    assert states["sent"] >= DEVICES * 4, "every alert's first tier at least"
    assert len({r.notification for r in requests}) == len(requests)
    print(f"messages: {len(published)} published, {len(wanted)} recorded once each")
    for name in ("a", "b", "c"):
        with contextlib.suppress(AssertionError):
            fleet.wait_healthy(name, timeout=1)


def sign_in(http: str, username: str, password: str) -> int:
    """POST the console's sign-in form; the HTTP status (a success redirects: 303)."""
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()
    request = urllib.request.Request(f"http://{http}/console/login", data=body, method="POST")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


def test_wrong_passwords_are_counted_once_across_processes(fleet: Fleet) -> None:
    """ "Five wrong passwords for one name from one address within five minutes" holds
    for the service, not for each process: a guesser spreading tries over two processes
    behind a load balancer is refused at the sixth, whichever process takes it."""
    cli(fleet.env, "directory", "import", str(DIRECTORY))
    fleet.start("a")
    fleet.start("b")
    statuses = [
        sign_in(fleet.http("a" if n % 2 else "b"), "reception1", f"guess {n}")
        for n in range(PAIR_FAILURES)
    ]
    assert statuses == [401] * PAIR_FAILURES
    assert sign_in(fleet.http("a"), "reception1", "guess again") == 429
    assert sign_in(fleet.http("b"), "reception1", "and again") == 429
