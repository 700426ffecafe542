"""A client that only types (sends no audio) over a real WebSocket: a reply it has had time to hear
in full is not cut by its next turn (no audio.clear), though its media clock never runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.client import next_of
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PCM16_16K_BYTES_PER_S = 32000


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()  # no speech models: no audio in
    yield gw
    gw.stop()


async def reply_audio(ws: ClientConnection, turn_id: int, seen: list[dict[str, Any]]) -> tuple[float, int]:
    """Reads up to the turn's turn.timing: when its first audio frame arrived and its audio bytes."""
    loop = asyncio.get_running_loop()
    first: float | None = None
    size = 0
    async with asyncio.timeout(90):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                first = loop.time() if first is None else first
                size += len(raw)
                continue
            message = json.loads(raw)
            seen.append(message)
            if message["type"] == "turn.timing" and message["turn_id"] == turn_id:
                assert first is not None
                return first, size


async def test_typed_turns_after_a_played_out_reply_clear_nothing(gateway: GatewayThread) -> None:
    seen: list[dict[str, Any]] = []
    async with connect(gateway.url) as ws:
        await ws.send(json.dumps({"type": "session.start", "language": "en"}))  # pcm16 16 kHz
        await next_of(ws, "session.started")
        await ws.send(json.dumps({"type": "text", "text": "What are your shipping options?"}))
        first_frame, size = await reply_audio(ws, 1, seen)
        assert size > PCM16_16K_BYTES_PER_S // 2  # a spoken reply the client plays in real time
        played_out = first_frame + size / PCM16_16K_BYTES_PER_S + 0.3
        await asyncio.sleep(played_out - asyncio.get_running_loop().time())
        await ws.send(json.dumps({"type": "text", "text": "How long do I have to return an item?"}))
        await reply_audio(ws, 2, seen)
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", seen=seen)
    assert [m["turn_id"] for m in seen if m["type"] == "transcript.final"] == [1, 2]
    assert [m for m in seen if m["type"] in ("audio.clear", "error")] == []
