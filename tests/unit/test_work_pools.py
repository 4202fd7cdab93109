"""Bounded pools: a full pool says so at once (with when to try again), frees its slots
however a job ends, and runs its jobs on its own low-priority threads."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from service.workers.pools import BoundedPool, PoolFull


async def test_a_full_pool_refuses_at_once_and_says_when_to_try_again() -> None:
    pool = BoundedPool("test", workers=1, waiting=1)
    release = threading.Event()
    try:
        running = pool.submit(release.wait, 10)
        waiting = pool.submit(release.wait, 10)
        with pytest.raises(PoolFull) as refused:
            pool.submit(release.wait, 10)
        assert refused.value.retry_after >= 1 and refused.value.pool == "test"
        assert pool.stats["refused"] == 1
        release.set()
        assert running.result(5) and waiting.result(5)
        assert await pool.run(lambda: "again") == "again"
    finally:
        release.set()
        pool.close()


async def test_a_slot_is_freed_when_its_job_fails_or_its_caller_goes_away() -> None:
    pool = BoundedPool("test", workers=1, waiting=0)
    try:
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        assert pool.taken == 0
        release = threading.Event()
        caller = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.05)
        caller.cancel()  # the job already runs: its slot stays taken until it ends
        assert pool.taken == 1
        release.set()
        for _ in range(100):
            if pool.taken == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.taken == 0
    finally:
        pool.close()


async def test_jobs_run_on_the_pools_own_threads_at_lower_priority() -> None:
    pool = BoundedPool("passwords", workers=1, waiting=0, nice=19)
    try:
        name, nice = await pool.run(
            lambda: (
                threading.current_thread().name,
                os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
            )
        )
        assert name.startswith("lw-passwords")
        assert nice == 19
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != 19
    finally:
        pool.close()
