"""Issue 16, the store that died quietly: regressions through the real WebSocket protocol against
a real gateway (GatewayThread, SQLite store). A typed turn with an unpaired surrogate, and a
client that reconnects with the same session_id, each used to stop transcript storage for good."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.client import next_of
from gateway.store.transcripts import read_transcript
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()  # typed turns only
    yield gw
    gw.stop()


async def start(ws: ClientConnection, session_id: str | None = None) -> str:
    message: dict[str, Any] = {"type": "session.start", "language": "en"}
    if session_id is not None:
        message["session_id"] = session_id
    await ws.send(json.dumps(message))
    return str((await next_of(ws, "session.started"))["session_id"])


async def say(ws: ClientConnection, raw_json: str) -> None:
    """Sends a typed turn given as raw JSON text; waits for its turn.timing, or for the connection
    to end (what the surrogate turn did before the fix: the reply could not be encoded)."""
    await ws.send(raw_json)
    with contextlib.suppress(ConnectionClosed):
        await next_of(ws, "turn.timing", wait=60)


def stored(gw: GatewayThread, session_id: str, *, ended: bool = True, wait_s: float = 20.0) -> dict[str, Any]:
    """The stored transcript once it is there (and ended, when asked): the store writes behind."""
    path = gw.settings.store.path
    got: dict[str, Any] | None = None
    for _ in range(int(wait_s / 0.1)):
        got = read_transcript(path, session_id)
        if got is not None and (not ended or got["end_reason"] is not None):
            return got
        time.sleep(0.1)
    raise AssertionError(f"session {session_id} not stored (last read: {got})")


def caller_texts(transcript: dict[str, Any]) -> list[str]:
    return [t["text"] for t in transcript["turns"] if t["speaker"] == "caller"]


async def test_surrogate_typed_turn_is_stored_and_storage_goes_on(gateway: GatewayThread) -> None:
    async with connect(gateway.url) as ws:
        first = await start(ws)
        # The raw JSON escape of an unpaired UTF-16 surrogate: valid JSON, not encodable UTF-8.
        await say(ws, '{"type": "text", "text": "hi \\ud800 there"}')
        # The connection may be gone: the reply could not be encoded (issue 16's protocol part).
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "session.end"}))
            await next_of(ws, "session.ended", wait=30)
    # Later sessions are stored (before the fix, the writer was dead: nothing more was written).
    async with connect(gateway.url) as ws:
        second = await start(ws)
        await say(ws, json.dumps({"type": "text", "text": "When will my order arrive?"}))
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)
    later = await asyncio.to_thread(stored, gateway, second)
    assert caller_texts(later) == ["When will my order arrive?"] and later["end_reason"] == "caller-ended"
    earlier = await asyncio.to_thread(stored, gateway, first)
    assert caller_texts(earlier) == ["hi \ufffd there"]  # kept, the surrogate replaced
    health = json.loads(await asyncio.to_thread(_get, gateway.http + "/health"))
    assert health["store"]["state"] == "ok" and health["store"]["dead_letters"] == 0


async def test_reconnect_with_same_session_id_stores_the_second_connection(gateway: GatewayThread) -> None:
    async with connect(gateway.url) as ws:
        session_id = await start(ws)
        await say(ws, json.dumps({"type": "text", "text": "How long do I have to return an item?"}))
    # A drop (no session.end); the client simply reconnects with its session_id.
    dropped = await asyncio.to_thread(stored, gateway, session_id)  # the first connection's end
    assert dropped["end_reason"] == "caller-vanished"
    async with connect(gateway.url) as ws:
        assert await start(ws, session_id) == session_id
        await say(ws, json.dumps({"type": "text", "text": "When will I get my refund?"}))
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)
    got = await asyncio.to_thread(stored, gateway, session_id)
    for _ in range(100):  # the end of the second connection
        if got["end_reason"] == "caller-ended":
            break
        await asyncio.sleep(0.1)
        got = await asyncio.to_thread(stored, gateway, session_id)
    assert caller_texts(got) == ["How long do I have to return an item?", "When will I get my refund?"]
    assert got["end_reason"] == "caller-ended"
    assert len([t for t in got["turns"] if t["speaker"] == "bot"]) == 2
    # And storage goes on for everyone else.
    async with connect(gateway.url) as ws:
        other = await start(ws)
        await say(ws, json.dumps({"type": "text", "text": "Can I pay with a gift card?"}))
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)
    assert caller_texts(await asyncio.to_thread(stored, gateway, other)) == ["Can I pay with a gift card?"]


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_surrogate_in_twilio_custom_parameters_is_stored(gateway: GatewayThread) -> None:
    """The same character in a Twilio stream's `caller` parameter: the call is stored and storage
    goes on. (In `tenant` it is not a tenant name: the bridge refuses the call with a clear reason,
    tests/security/test_probe_regressions.py.)"""
    from gateway.transports.phone_callers import TwilioCaller

    twilio = gateway.url.replace("/ws", "/phone/twilio")
    caller = TwilioCaller(twilio, language="en", tenant="tx", caller="+1 555 0100\ud800")
    await caller.connect()
    await asyncio.sleep(1.0)
    await caller.hangup()
    path = gateway.settings.store.path

    def phone_session() -> dict[str, Any]:
        for _ in range(200):
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                row = db.execute("SELECT id FROM sessions WHERE channel = 'phone'").fetchone()
            if row is not None:
                return stored(gateway, row[0])
            time.sleep(0.1)
        raise AssertionError("the Twilio call was not stored")

    got = await asyncio.to_thread(phone_session)
    assert got["tenant"] == "tx" and got["caller_hash"] and got["end_reason"]
    async with connect(gateway.url) as ws:  # and storage goes on
        other = await start(ws)
        await say(ws, json.dumps({"type": "text", "text": "Can I pay with a gift card?"}))
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)
    assert caller_texts(await asyncio.to_thread(stored, gateway, other)) == ["Can I pay with a gift card?"]
