"""/metrics of a real gateway: sessions per channel, stage latency, errors by code, queue depths."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()
    yield gw
    gw.stop()


def scrape(gw: GatewayThread) -> dict[str, float]:
    """Every sample of /metrics by its name and labels, e.g. 'gateway_sessions_active{channel="kiosk"}'."""
    url = gw.url.replace("ws://", "http://").replace("/ws", "/metrics")
    with urllib.request.urlopen(url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    samples = (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


async def test_metrics_follow_a_call(gateway: GatewayThread) -> None:
    before = scrape(gateway)
    assert before['gateway_queue_depth{queue="agent-queue"}'] == 0
    async with connect(gateway.url) as ws:
        await ws.send(json.dumps({"type": "session.start", "channel": "kiosk", "language": "en"}))
        await next_of(ws, "session.started")
        await ws.send(json.dumps({"type": "text", "text": "I want to talk to a person please."}))
        await next_of(ws, "handoff")
        await next_of(ws, "turn.timing", wait=60)  # the reply is voiced (the TTS loads on first use)
        await ws.send(json.dumps({"type": "dtmf", "digit": "x"}))  # not a DTMF digit
        assert (await next_of(ws, "error"))["code"] == "protocol-bad-field"
        during = scrape(gateway)
        assert during['gateway_sessions_active{channel="kiosk"}'] == 1
        assert during['gateway_queue_depth{queue="agent-queue"}'] == 1  # waiting for a person
        assert during['gateway_errors_total{code="protocol-bad-field"}'] >= 1
        for queue in ("session-inbox", "session-outbox", "store-backlog"):
            assert f'gateway_queue_depth{{queue="{queue}"}}' in during
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended")
    after = scrape(gateway)
    assert after['gateway_sessions_active{channel="kiosk"}'] == 0
    assert after['gateway_queue_depth{queue="agent-queue"}'] == 0  # the caller left the queue
    assert after['gateway_stage_seconds_count{stage="core"}'] == 1  # one answered turn
    assert after['gateway_stage_seconds_count{stage="tts"}'] == 1
