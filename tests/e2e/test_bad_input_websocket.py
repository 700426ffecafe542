"""Bad input over a real WebSocket: each gets an error event with a stable code (or a clean close),
the server stays up, and what the caller already said stays stored."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.client import GatewayClient, next_of
from gateway.store.transcripts import read_transcript

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def healthy(live_gateway) -> bool:
    with urllib.request.urlopen(live_gateway.http + "/health", timeout=10) as response:
        return json.load(response)["status"] == "ok"


async def test_errors_before_session_start(live_gateway):
    async with connect(live_gateway.url) as ws:
        await ws.send(bytes(640))
        assert (await next_of(ws, "error"))["code"] == "protocol-not-started"
        await ws.send("this is not json")
        assert (await next_of(ws, "error"))["code"] == "protocol-bad-json"
        await ws.send(json.dumps({"type": "session.start", "audio": {"encoding": "pcm16",
                                                                       "sample_rate": 22050}}))
        assert (await next_of(ws, "error"))["code"] == "audio-unsupported-format"
        # the same connection can still start a valid session
        await ws.send(json.dumps({"type": "session.start", "language": "en"}))
        assert (await next_of(ws, "session.started"))["session_id"]


async def test_errors_inside_a_session_keep_it_alive_and_its_transcript(live_gateway):
    async with GatewayClient(live_gateway.url, language="en") as client:
        await client.send_text("How long do I have to return an item?")
        await client.wait_for("turn.timing", timeout=60)
        await client.send_json({"type": "warp.drive"})
        await client.send_bytes(bytes(641))  # not a whole number of samples
        await client.send_bytes(bytes(100))  # 3 ms: below the minimum frame
        await client.send_bytes(bytes(32000))  # 1 s: above the maximum frame
        await client.send_json({"type": "dtmf", "digit": "Z"})
        codes = [(await client.wait_for("error", timeout=10, count=n))["code"] for n in range(1, 6)]
        assert codes == ["protocol-unknown-type", "audio-bad-frame-size", "audio-bad-frame-size",
                         "audio-bad-frame-size", "protocol-bad-field"]
        await client.send_text("What are your shipping options?")
        await client.wait_for("turn.timing", timeout=60, count=2)
    assert len(client.result.replies()) == 2
    live_gateway.call(live_gateway.gateway.store.flush())
    stored = read_transcript(live_gateway.settings.store.path, client.result.session_id)
    assert stored is not None
    assert [t["speaker"] for t in stored["turns"]] == ["caller", "bot", "caller", "bot"]
    assert {e["code"] for e in stored["errors"]} >= {"protocol-unknown-type", "audio-bad-frame-size"}


async def test_a_message_over_the_size_cap_is_refused_and_the_session_goes_on(live_gateway):
    cap = live_gateway.settings.server.max_message_bytes
    ws = await connect(live_gateway.url, max_size=None)
    await ws.send(json.dumps({"type": "session.start", "language": "en"}))
    session_id = (await next_of(ws, "session.started"))["session_id"]
    await ws.send(bytes(cap + 2))  # an oversized audio frame
    error = await next_of(ws, "error")
    assert error["code"] == "message-too-large" and str(cap) in error["message"]
    await ws.send(json.dumps({"type": "image", "data": "A" * (cap + 100)}))  # an oversized screenshot
    assert (await next_of(ws, "error"))["code"] == "message-too-large"
    await ws.send(json.dumps({"type": "text", "text": "What are your shipping options?"}))
    await next_of(ws, "turn.timing", wait=60)  # still answered
    await ws.send(json.dumps({"type": "session.end"}))
    await next_of(ws, "session.ended")
    await ws.close()
    live_gateway.call(live_gateway.gateway.store.flush())
    stored = read_transcript(live_gateway.settings.store.path, session_id)
    assert stored is not None
    assert [t["speaker"] for t in stored["turns"]] == ["caller", "bot"]
    assert [e["code"] for e in stored["errors"]] == ["message-too-large", "message-too-large"]


async def test_a_50_mb_frame_closes_cleanly_and_keeps_the_transcript(live_gateway):
    ws = await connect(live_gateway.url, max_size=None)
    await ws.send(json.dumps({"type": "session.start", "language": "en"}))
    session_id = (await next_of(ws, "session.started"))["session_id"]
    await ws.send(json.dumps({"type": "text", "text": "What are your shipping options?"}))
    await next_of(ws, "turn.timing", wait=60)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send(bytes(50 * 1024 * 1024))
        await ws.recv()
        await ws.recv()
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009  # "message too big"
    await asyncio.sleep(0.5)
    assert healthy(live_gateway)
    live_gateway.call(live_gateway.gateway.store.flush())
    stored = read_transcript(live_gateway.settings.store.path, session_id)
    assert stored is not None
    assert [t["speaker"] for t in stored["turns"]] == ["caller", "bot"]
    assert stored["ended_at"] is not None


async def test_a_client_that_vanishes_mid_turn(live_gateway):
    ws = await connect(live_gateway.url)
    await ws.send(json.dumps({"type": "session.start", "language": "en"}))
    session_id = (await next_of(ws, "session.started"))["session_id"]
    await ws.send(json.dumps({"type": "text", "text": "How long do I have to return an item?"}))
    await next_of(ws, "transcript.final")
    ws.transport.abort()  # no close handshake: the peer is simply gone
    await asyncio.sleep(1.0)
    assert healthy(live_gateway)
    live_gateway.call(live_gateway.gateway.store.flush())
    for _ in range(50):
        stored = read_transcript(live_gateway.settings.store.path, session_id)
        if stored is not None and stored["ended_at"] is not None:
            break
        await asyncio.sleep(0.2)
        live_gateway.call(live_gateway.gateway.store.flush())
    assert stored is not None
    assert stored["turns"][0]["text"] == "How long do I have to return an item?"
    assert stored["end_reason"] == "caller-vanished"


async def test_unknown_http_path(live_gateway):
    with pytest.raises(urllib.error.HTTPError) as info:
        await asyncio.to_thread(urllib.request.urlopen, live_gateway.http + "/nope", timeout=10)
    assert info.value.code == 404
