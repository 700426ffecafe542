"""Admission over the real protocol: a node driven over capacity (a scripted load source, not real
CPU load) refuses new sessions with `busy` (closed 1013) while an admitted session goes on being
answered; /health and /metrics show it; once the load is gone new sessions are admitted again."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.capacity import Sample
from gateway.client import next_of
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class ScriptedLoad:
    """The monitor's sample source: overloaded (event-loop lag of 1 s) while `over` is set."""

    def __init__(self) -> None:
        self.over = False

    def __call__(self, now: float, loop_lag_ms: float) -> Sample:
        return Sample(now, 0.0, 1000.0 if self.over else 0.0, sessions=1)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[GatewayThread, ScriptedLoad]]:
    settings = make_settings(tmp_path)
    settings = dataclasses.replace(settings, admission=dataclasses.replace(
        settings.admission, mode="adaptive", interval_s=0.05, trip_samples=2, recover_samples=2))
    gw = GatewayThread(settings, preload=False).start()  # typed turns only: no speech models
    load = ScriptedLoad()
    assert gw.gateway is not None
    gw.gateway.capacity_monitor.source = load
    yield gw, load
    gw.stop()


async def get(url: str) -> str:
    def read() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    return await asyncio.to_thread(read)


async def capacity_state(gw: GatewayThread, want: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            capacity: dict[str, Any] = json.loads(await get(gw.http + "/health"))["capacity"]
            if capacity["state"] == want:
                return capacity
            await asyncio.sleep(0.05)


async def test_busy_refuses_new_sessions_and_admitted_ones_go_on(
        gateway: tuple[GatewayThread, ScriptedLoad]) -> None:
    gw, load = gateway
    seen: list[dict[str, Any]] = []
    async with connect(gw.url) as admitted:
        await admitted.send(json.dumps({"type": "session.start", "language": "en"}))
        await next_of(admitted, "session.started")

        load.over = True
        capacity = await capacity_state(gw, "busy")
        assert capacity["reason"] == "loop-lag" and capacity["headroom"] == 0.0
        assert "gateway_admitting 0.0" in await get(gw.http + "/metrics")
        async with connect(gw.url) as refused:
            await refused.send(json.dumps({"type": "session.start", "language": "en"}))
            error = await next_of(refused, "error")
            assert error["code"] == "busy"
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await refused.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

        # The admitted session is still answered while the node refuses others.
        await admitted.send(json.dumps({"type": "text", "text": "What are your shipping options?"}))
        await next_of(admitted, "turn.timing", wait=90, seen=seen)

        load.over = False
        await capacity_state(gw, "ok")
        assert "gateway_admitting 1.0" in await get(gw.http + "/metrics")
        async with connect(gw.url) as again:
            await again.send(json.dumps({"type": "session.start", "language": "en"}))
            await next_of(again, "session.started")
            await again.send(json.dumps({"type": "session.end"}))
            await next_of(again, "session.ended")

        await admitted.send(json.dumps({"type": "session.end"}))
        await next_of(admitted, "session.ended", seen=seen)
    assert [m for m in seen if m["type"] == "error"] == []
    assert [m["turn_id"] for m in seen if m["type"] == "transcript.final"] == [1]
