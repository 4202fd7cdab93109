"""What runs while the service runs, and the order it starts and stops in: the views
caught up, unsent notifications resumed, every loop under the supervisor, then the device
traffic taken (alarm session first); on the way out the reverse, the store closed last.
`running` is the aiohttp cleanup context `service.bootstrap.create_app` hands the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from service.container import Container
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)


async def _start_mqtt(c: Container) -> None:
    """The gateway's lanes first, then the alarm session, then (once the alarm session has
    subscribed) the main one: device_gateway/sessions.py says why."""
    if c.broker is not None:
        await c.broker.start()
        log.info("embedded_broker_started", port=c.settings.mqtt.port)
    c.supervisor.start("gateway", lambda _: c.gateway.run())
    await asyncio.sleep(0)  # let the gateway take its queues before paho can deliver
    c.sessions.open(
        on_message=c.gateway.receive_threadsafe, on_alarm=c.gateway.receive_alarm_threadsafe
    )
    await _start_owntracks(c, "v311" if c.settings.mqtt.embedded else "v5")
    # Not awaited here: start-up (and the health endpoint) must not wait for a broker.
    c.tasks.append(asyncio.create_task(c.sessions.start_main(), name="mqtt-main-start"))


async def _start_owntracks(c: Container, protocol: Literal["v5", "v311"]) -> None:
    """A session for the directory's OwnTracks phones (INTERFACES.md section 8), if any; a
    phone added to the directory is subscribed at the next start."""
    from device_gateway.mqtt_link import MqttLink
    from device_gateway.owntracks import subscriptions
    from device_gateway.owntracks_link import OwnTracksPhones
    from service.application.integrations import owntracks_topics
    from service.application.phones import phone_left_region

    topics = await asyncio.to_thread(owntracks_topics, c.app)
    if not topics:
        return
    if c.settings.nats_servers is not None:
        log.warning("owntracks_not_on_nats", why="OwnTracks phones need an mqtt:// broker")
        return
    phones = OwnTracksPhones(
        c.gateway.intake,
        topics,
        on_left=lambda device, region: phone_left_region(c.app, device, region),
        on_recorded=c.live.wake,
        stats=c.gateway.stats,
    )
    c.phones_link = MqttLink(
        c.settings.mqtt,
        client_id=f"{c.settings.mqtt_client_id}-owntracks",
        subscriptions=subscriptions(topics),
        on_message=phones.receive_threadsafe,
        protocol=protocol,
    )
    phones.bind(c.phones_link)
    c.supervisor.start("owntracks", phones.run)
    await asyncio.sleep(0)  # the loop takes its queue before paho can deliver
    c.phones_link.start()


LEASE_FIRST_ROUND = 10.0
"""Start-up waits at most this long for the first lease round (the store may be down)."""
SCHEDULER_INTERVAL = 1.0
QUICK_RESTART_DELAY = 0.2
"""The scheduler and the live views are started again this soon after a failed round, every
time (no doubling to the supervisor's 2 s): while the store is down each round fails within
its pool's wait, and once it is back the scheduler's first round, and the live views that
hand each recorded step's messages to the dispatcher, must come within one interval
(issue 10: no step later than one scheduler interval after recovery)."""
GIL_SWITCH_INTERVAL = 0.001
"""How long a thread may hold the GIL while another waits for it (Python's default is
5 ms). Under a heartbeat flood paho's thread and the bulk lane are busy in Python; the
alarm path makes a dozen short hops between the loop, its worker thread and the database
for each SOS, and each hop waited up to a whole interval for the GIL. At 1 ms the SOS
figure under the flood improved (docs/performance.md, "SOS under load") with no measurable
loss in heartbeats recorded."""
GC_YOUNG_THRESHOLD = 100_000
"""Net new container objects (made less freed) between two collections of the youngest
generation (Python's default is 700; the older generations keep theirs, 10 and 10). Under
a heartbeat flood every message leaves a small reference cycle behind (paho 2.2's topic
matcher builds a recursive closure per message), so at 700 the collector ran ~130 times
a second and, every second or two, a full collection of the whole heap stopped every
thread, the alarm path's too, for 100-400 ms; with the heap frozen at start-up (below)
20,000 stopped the full collections. What a young collection costs is what is young and
still alive: under a flood that is the messages in flight, ~16 containers a heartbeat
from paho to the views (~50,000-75,000 with a backlog), and a views batch paused the
collector while it added ~30,000-70,000 more, so at 20,000 nearly every batch's end set
off a collection that scanned all of them (~17 ms CPU each, ~5 CPU-us a heartbeat). At
100,000 the in-flight set and a batch no longer reach it: ~1 young collection in a 5 s
flood instead of ~16 (gc9, docs/performance.md). Cyclic garbage waits at most 100,000
containers (a few MB) for its collection."""


def settle_collector() -> None:
    """Once start-up is done: what start-up built (modules, the directory, the app, caches
    filled at start) is moved out of the collector's sight (`gc.freeze`), so a full
    collection scans only what was made since, and the youngest generation is collected
    less often. Reference counting still frees everything as before; only cycles among
    the frozen objects, made before this call, are never collected (start-up's garbage,
    once: no `gc.collect()` first, which costs a full collection at every start, and tests
    start the service hundreds of times). `unsettle_collector` undoes it when the last
    service running in this process stops (tests run several in one process)."""
    if not _settled:
        _settled.append(gc.get_threshold())
        _, middle, oldest = _settled[0]
        gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)
    else:
        _settled.append(_settled[0])
    gc.freeze()


def unsettle_collector() -> None:
    """The collector as it was before the first `settle_collector` still in force."""
    if not _settled:
        return
    thresholds = _settled.pop()
    if not _settled:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


_settled: list[tuple[int, int, int]] = []
"""The thresholds found by the first `settle_collector` still in force, once per call."""


def supervise_loops(c: Container) -> None:
    """The loops that keep alarms moving; each beats after every round that worked, and
    health calls one stale after missing several of its rounds."""

    async def scheduler(state: LoopState) -> None:
        await c.scheduler.run(interval=SCHEDULER_INTERVAL, after_tick=c.live.wake, state=state)

    c.supervisor.start(
        "live-views",
        c.live.run,
        stale_after=max(10.0, 10 * c.live.poll_interval),
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    c.supervisor.start(
        "scheduler",
        scheduler,
        stale_after=10 * SCHEDULER_INTERVAL,
        first_delay=QUICK_RESTART_DELAY,
        max_delay=QUICK_RESTART_DELAY,
    )
    c.supervisor.start("notification-sweep", c.dispatcher.sweep_forever, stale_after=30.0)
    if c.notices is not None:
        c.supervisor.start("store-notices", c.notices.run, stale_after=30.0)
    for lease in c.leases:
        c.supervisor.start(
            f"lease-{lease.name}",
            lease.keep,
            stale_after=10 * lease.renew_every,
            first_delay=QUICK_RESTART_DELAY,
            max_delay=QUICK_RESTART_DELAY,
        )
    if c.arc is not None:
        c.supervisor.start("arc-supervision", c.arc.supervise, stale_after=30.0)
    if c.merkle is not None:
        from service.workers.merkle_log import MerkleLogWorker

        worker = MerkleLogWorker(
            c.merkle, c.clock, c.signing_key, sign_every=c.settings.signing_interval
        )
        c.supervisor.start("merkle-log", worker.run, stale_after=60.0)


@contextlib.asynccontextmanager
async def running(c: Container, *, with_mqtt: bool = True) -> AsyncIterator[None]:
    """Start: catch the views up, resume unsent notifications, follow, then take device traffic.

    A context manager, not a generator to iterate: leaving an `async for` by an exception
    leaves the generator unfinished until the loop collects it, so a failed test left its
    service running, and the cycle collector settled, for the tests after it.

    The worker threads that call the (synchronous) store are owned here: a thread
    cannot be cancelled, so shutdown waits for them before the store is closed.
    """
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, GIL_SWITCH_INTERVAL))
    workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lw-worker")
    asyncio.get_running_loop().set_default_executor(workers)
    await asyncio.to_thread(c.projector.catch_up_at_start)
    supervise_loops(c)
    # The first round of each lease: the holder of the outbox resumes unsent notifications
    # (and the ARC's) before device traffic is taken, as a single process always did.
    for lease in c.leases:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LEASE_FIRST_ROUND):
                await lease.first_round.wait()
    if with_mqtt:
        await _start_mqtt(c)
    settle_collector()
    try:
        yield
    finally:
        await c.sessions.stop()
        if c.phones_link is not None:
            await asyncio.to_thread(c.phones_link.stop)
        await c.supervisor.stop()
        for task in c.tasks:
            task.cancel()
        for task in c.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        c.tasks.clear()
        # Again: the main session may have been started (after the alarm session
        # subscribed) between the first stop and the cancel. stop() is idempotent.
        await c.sessions.stop()
        await c.dispatcher.stop()
        if c.arc is not None:
            await c.arc.stop()
        for lease in c.leases:  # the next process takes over at its next round
            await lease.release()
        await c.notifier.aclose()
        if c.broker is not None:
            await c.broker.stop()
        workers.shutdown(wait=True, cancel_futures=True)
        sys.setswitchinterval(switch_interval)
        unsettle_collector()
