"""RedisCluster.aclose() ends even when a step of it does not: a client library stuck closing a
socket must not hold a node's shutdown (a full suite run once hung in a fixture's teardown here)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cluster import redis_cluster
from gateway.cluster.redis_cluster import RedisCluster


async def test_a_stuck_background_task_and_client_do_not_hold_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_cluster, "CLOSE_STEP_S", 0.2)
    node = RedisCluster("node-a", "redis://127.0.0.1:1", timeout_s=0.2)  # nothing listens there
    release = asyncio.Event()

    async def stuck() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows the cancellation, as a stuck socket close does

    async def never() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)  # it is waiting inside when the cancellation comes
    node._tasks = [task]
    monkeypatch.setattr(node._redis, "aclose", never)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(10):  # fails instead of hanging the suite
        await node.aclose()
    assert loop.time() - started < 3.0
    assert node._tasks == [] and not task.done()  # left behind, not waited for
    release.set()
    await task
