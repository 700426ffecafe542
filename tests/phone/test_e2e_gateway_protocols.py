"""Twilio-style, AudioSocket and chan_websocket calls into the real gateway (VAD, ASR, core, TTS),
each placed by a client written from its wire format: the spoken question is answered in speech
on the same wire, then DTMF 0 hands the caller to a person (the gateway ends its part)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from gateway.cli.phone import question_frames
from gateway.store.transcripts import read_transcript
from gateway.telephony import PhoneSettings
from gateway.transports.phone_audiosocket import AudioSocketServer
from gateway.transports.phone_callers import AudioSocketCaller, ChanWebsocketCaller, PhoneCaller, TwilioCaller
from gateway.transports.phone_ws import ASTERISK_PATH, TWILIO_PATH, serve_phone_websockets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("protocol", ["twilio", "chan_websocket", "audiosocket"])
async def test_spoken_question_answered_then_handoff(live_gateway: Any, protocol: str) -> None:
    gateway = live_gateway.gateway
    settings = PhoneSettings(handoff_grace_ms=1500)

    async def start() -> tuple[Any, AudioSocketServer, int, int]:
        ws = await serve_phone_websockets(gateway, settings)
        audiosocket = AudioSocketServer(gateway, settings)
        return ws, audiosocket, ws.sockets[0].getsockname()[1], await audiosocket.start("127.0.0.1", 0)

    async def stop() -> None:
        ws.close()
        await audiosocket.aclose()

    ws, audiosocket, ws_port, as_port = live_gateway.call(start())
    callers: dict[str, PhoneCaller] = {
        "twilio": TwilioCaller(f"ws://127.0.0.1:{ws_port}{TWILIO_PATH}", language="en", tenant="t1"),
        "chan_websocket": ChanWebsocketCaller(f"ws://127.0.0.1:{ws_port}{ASTERISK_PATH}"),
        "audiosocket": AudioSocketCaller("127.0.0.1", as_port)}
    caller = callers[protocol]
    frames, _ = question_frames()
    loop = asyncio.get_running_loop()
    try:
        await caller.connect()
        t0 = loop.time()
        silence = np.zeros(160, np.int16)
        dtmf_sent = False
        for i in range(50 * 60):
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            if caller.heard.hung_up:
                break
            await caller.send(frames[i] if i < len(frames) else silence)
            heard_s = len(caller.heard.audio) / 16000
            if heard_s > 2.0 and not dtmf_sent:  # the answer is playing: ask for a person
                await caller.dtmf("0")
                dtmf_sent = True
        assert dtmf_sent, "no spoken answer within a minute"
        assert caller.heard.hung_up, "the gateway did not end its part after the handoff"
    finally:
        await caller.hangup()
        live_gateway.call(stop())
    live_gateway.call(gateway.store.flush())
    session_id = _latest_phone_session(live_gateway)  # tests run one at a time
    record = read_transcript(live_gateway.settings.store.path, session_id)
    assert record is not None
    texts = [(t["speaker"], t["text"].lower()) for t in record["turns"]]
    assert any(s == "caller" and "return" in t for s, t in texts), texts
    assert any(s == "bot" for s, _ in texts)
    heard = np.frombuffer(bytes(caller.heard.audio), dtype="<i2")
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 300  # audible speech, not silence


def _latest_phone_session(live_gateway: Any) -> str:
    import sqlite3

    conn = sqlite3.connect(f"file:{live_gateway.settings.store.path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT id FROM sessions WHERE channel = 'phone' ORDER BY started_at DESC "
                           "LIMIT 1").fetchone()
    finally:
        conn.close()
    return str(row[0])
