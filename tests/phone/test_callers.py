"""The bench's protocol-accurate callers against the real transports (scripted session that
answers after 1 s of caller audio): each wire carries audio both ways and measures latency."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.cli.phone import place_call
from gateway.telephony import PhoneSettings
from gateway.transports.phone_audiosocket import AudioSocketServer
from gateway.transports.phone_callers import (
    AudioSocketCaller,
    ChanWebsocketCaller,
    PhoneCaller,
    SipCaller,
    TwilioCaller,
)
from gateway.transports.phone_sip import SipEndpoint
from gateway.transports.phone_ws import ASTERISK_PATH, TWILIO_PATH, serve_phone_websockets
from tests.phone.conftest import ScriptedFactory


@pytest.mark.parametrize("protocol", ["twilio", "chan_websocket", "audiosocket", "sip"])
async def test_caller_hears_reply_and_measures_latency(protocol: str) -> None:
    factory = ScriptedFactory(reply_after_ms=1000)
    ws = await serve_phone_websockets(factory)
    audiosocket = AudioSocketServer(factory)
    sip = SipEndpoint(factory, PhoneSettings())
    try:
        ws_port = ws.sockets[0].getsockname()[1]
        callers: dict[str, PhoneCaller] = {
            "twilio": TwilioCaller(f"ws://127.0.0.1:{ws_port}{TWILIO_PATH}", language="en"),
            "chan_websocket": ChanWebsocketCaller(f"ws://127.0.0.1:{ws_port}{ASTERISK_PATH}"),
            "audiosocket": AudioSocketCaller("127.0.0.1", await audiosocket.start("127.0.0.1", 0)),
            "sip": SipCaller("127.0.0.1", await sip.start(port=0))}
        caller = callers[protocol]
        t = np.arange(160) / 8000
        speech = [(5000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)] * 50  # 1 s "voiced"
        latency = await place_call(caller, speech, last_voiced=49, wait_s=3)
        assert latency is not None and -100 < latency < 1000
        heard = np.frombuffer(bytes(caller.heard.audio), dtype="<i2")
        assert len(heard) >= 160 and np.abs(heard).mean() > 1000  # the reply tone started arriving
        session = factory.sessions[0]
        assert len(session.audio) >= session.request.audio.frame_bytes(1000)
    finally:
        await sip.aclose()
        await audiosocket.aclose()
        ws.close()
