"""Actions through a real gateway over a real WebSocket, against a real HTTP order service."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from gateway.client import GatewayClient
from gateway.store.transcripts import read_transcript
from tests.actions.backend import Backend, actions_file, running_backend
from tests.conftest import SAMPLES, GatewayThread, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def service() -> Iterator[Backend]:
    with running_backend() as backend:
        yield backend


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, service: Backend) -> Iterator[GatewayThread]:
    tmp = tmp_path_factory.mktemp("gw-actions")
    base = make_settings(tmp)
    settings = dataclasses.replace(base, core=dataclasses.replace(
        base.core, records_path=str(tmp / "core.sqlite3"),
        actions_path=str(actions_file(tmp / "actions", service.url, timeout_s=0.5))))
    gw = GatewayThread(settings, preload=False).start()  # typed turns and screenshots: no speech models
    yield gw
    gw.stop()


async def test_order_lookup_from_a_screenshot(gateway: GatewayThread, service: Backend) -> None:
    service.mode = "ok"
    async with GatewayClient(gateway.url, language="en") as client:
        await client.send_text("Hi, I have a question about my order.")
        await client.wait_for("turn.timing", timeout=60)
        await client.send_image((SAMPLES / "screens" / "order_en.png").read_bytes(), "image/png")
        final = await client.wait_for("transcript.final", timeout=120, count=2)
        await client.wait_for("turn.timing", timeout=60, count=2)
    assert final["modality"] == "screen"
    reply = client.result.replies()[final["turn_id"]]
    assert "A1029 has shipped" in reply and "1Z999AA10123456784" in reply, reply
    assert ("GET", "/api/orders/A1029") in [r[:2] for r in service.requests]
    assert client.result.errors == []


async def test_a_service_error_gets_a_clear_reply_and_is_in_the_transcript(
        gateway: GatewayThread, service: Backend) -> None:
    service.mode = "500"
    async with GatewayClient(gateway.url, language="en") as client:
        await client.send_text("Where is my order A1029?")
        await client.wait_for("turn.timing", timeout=60)
        await client.send_text("How long do I have to return an item?")
        await client.wait_for("turn.timing", timeout=60, count=2)
        session_id = client.result.session_id
        await client.end()
    replies = list(client.result.replies().values())
    assert "can't reach our order system" in replies[0] and "30 days" in replies[1], replies
    assert client.result.errors == []
    said: list[str] = []
    for _ in range(100):  # the store writes through a queue: wait until the session's lines are in
        transcript = read_transcript(gateway.settings.store.path, session_id)
        said = [t["text"] for t in (transcript or {}).get("turns", []) if t["speaker"] == "bot"]
        if len(said) >= 2:
            break
        await asyncio.sleep(0.1)
    assert any("can't reach our order system" in s for s in said), said
