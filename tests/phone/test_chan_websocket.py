"""Asterisk chan_websocket: control frames in both forms, then the transport with a client
playing Asterisk (MEDIA_START, binary ulaw, DTMF_END, MEDIA_XOFF/XON in; ANSWER, FLUSH_MEDIA,
HANGUP out)."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from gateway.errors import GatewayError
from gateway.events import AudioFormat
from gateway.protocol.chan_websocket import ChanWebsocket, CwAudio, CwDtmf, CwFlow, CwMediaStart, CwOther
from gateway.telephony import PhoneSettings
from gateway.transports.phone_ws import ASTERISK_PATH, serve_phone_websockets
from tests.phone.conftest import ScriptedFactory

START = "MEDIA_START connection_id:c1 channel:WebSocket/c1/0x1 format:ulaw optimal_frame_size:160 ptime:20"


def test_plain_text_control() -> None:
    proto = ChanWebsocket()
    start = proto.receive(START)
    assert start == CwMediaStart("c1", "WebSocket/c1/0x1", AudioFormat("mulaw", 8000), 160, 20)
    assert proto.receive(b"\xff" * 160) == CwAudio(b"\xff" * 160)
    assert proto.receive("DTMF_END digit:7") == CwDtmf("7")
    assert proto.receive("MEDIA_XOFF") == CwFlow(True) and proto.receive("MEDIA_XON") == CwFlow(False)
    assert proto.receive("QUEUE_DRAINED") == CwOther("QUEUE_DRAINED")
    assert (proto.answer(), proto.flush_media(), proto.hangup()) == ("ANSWER", "FLUSH_MEDIA", "HANGUP")


def test_json_control_is_answered_in_json() -> None:
    proto = ChanWebsocket()
    proto.receive(json.dumps({"event": "MEDIA_START", "connection_id": "c", "channel": "WebSocket/c",
                              "channel_id": "1.1", "format": "alaw", "optimal_frame_size": 160, "ptime": 20}))
    assert proto.started is not None and proto.started.audio.encoding == "alaw"
    assert proto.receive(json.dumps({"event": "DTMF_END", "digit": "#"})) == CwDtmf("#")
    assert json.loads(proto.flush_media()) == {"command": "FLUSH_MEDIA"}


@pytest.mark.parametrize("message, code", [
    (b"\xff" * 160, "chan-websocket-not-started"),
    ("", "protocol-bad-frame"),
    ("{bad json", "protocol-bad-frame"),
    ('{"no": "event"}', "chan-websocket-missing-field"),
    ("MEDIA_START format:opus", "chan-websocket-unsupported-format"),
    ("MEDIA_START format:ulaw ptime:abc", "protocol-bad-frame"),
    ("x" * 9000, "chan-websocket-frame-too-large"),
])
def test_refusals(message: str | bytes, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        ChanWebsocket().receive(message)
    assert info.value.code == code


def test_dtmf_without_digit_and_oversized_audio() -> None:
    proto = ChanWebsocket()
    proto.receive(START)
    for message, code in (("DTMF_END", "chan-websocket-missing-field"),
                          (b"\x00" * 20000, "chan-websocket-frame-too-large")):
        with pytest.raises(GatewayError) as info:
            proto.receive(message)
        assert info.value.code == code


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=400)))
def test_fuzz(message: str | bytes) -> None:
    proto = ChanWebsocket()
    try:
        proto.receive(START)
        proto.receive(message)
    except GatewayError:
        pass


async def recv_until(ws: ClientConnection, want: str, seconds: float = 5.0) -> int:
    """Count binary frames until the text command `want` arrives."""
    frames = 0
    async with asyncio.timeout(seconds):
        while True:
            msg = await ws.recv()
            if isinstance(msg, bytes):
                frames += 1
            elif msg == want:
                return frames


async def open_call(factory: ScriptedFactory) -> tuple[object, ClientConnection]:
    server = await serve_phone_websockets(factory, PhoneSettings(handoff_grace_ms=300, websocket_lead_ms=100))
    port = server.sockets[0].getsockname()[1]
    ws = await connect(f"ws://127.0.0.1:{port}{ASTERISK_PATH}")
    await ws.send(START)
    assert await ws.recv() == "ANSWER"
    return server, ws


async def test_call_media_dtmf_flush_and_hangup(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory)
    try:
        session = factory.sessions[0]
        for i in range(10):
            await ws.send(bytes([i]) * 160)
        await ws.send("DTMF_END digit:2")  # scripted: a 2 s tone
        first = await ws.recv()
        assert isinstance(first, bytes) and len(first) == 160
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        session.barge_in()
        await recv_until(ws, "FLUSH_MEDIA", seconds=1)
        assert (loop.time() - t0) * 1000 < 200
        await ws.send("DTMF_END digit:2")
        await ws.recv()
        await ws.close()
        await asyncio.wait_for(session.ended.wait(), 5)
        assert bytes(session.audio) == b"".join(bytes([i]) * 160 for i in range(10))
        assert session.dtmf == ["2", "2"] and session.closed == "caller-gone"
    finally:
        server.close()  # type: ignore[attr-defined]


async def test_xoff_pauses_and_xon_resumes(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory)
    try:
        await ws.send("MEDIA_XOFF")
        await ws.send("DTMF_END digit:2")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.4):
                await ws.recv()
        await ws.send("MEDIA_XON")
        assert isinstance(await asyncio.wait_for(ws.recv(), 2), bytes)
    finally:
        await ws.close()
        server.close()  # type: ignore[attr-defined]


async def test_handoff_sends_hangup(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory)
    try:
        await ws.send("DTMF_END digit:0")
        frames = await recv_until(ws, "HANGUP", seconds=5)
        assert frames >= 19  # the 400 ms "connecting you" tone was sent before hanging up
        await asyncio.wait_for(factory.sessions[0].ended.wait(), 5)
        assert factory.sessions[0].closed == "handoff-dtmf"
    finally:
        await ws.close()
        server.close()  # type: ignore[attr-defined]
