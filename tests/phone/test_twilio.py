"""Twilio-style media streams: the protocol object, then the transport with a client written
from the wire format (connected/start/media/dtmf/mark/stop in; media/mark/clear out)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from gateway.errors import GatewayError
from gateway.protocol.twilio import TwilioDtmf, TwilioMark, TwilioMedia, TwilioStart, TwilioStop, TwilioStream
from gateway.telephony import PhoneSettings
from gateway.transports.phone_ws import TWILIO_PATH, serve_phone_websockets
from tests.phone.conftest import ScriptedFactory

SID = "MZ0001"


def start_frame(**params: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": SID, "start": {
        "accountSid": "AC1", "streamSid": SID, "callSid": "CA1", "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": params}})


def media_frame(payload: bytes, ts: int = 0) -> str:
    return json.dumps({"event": "media", "streamSid": SID, "media": {
        "track": "inbound", "chunk": "1", "timestamp": str(ts),
        "payload": base64.b64encode(payload).decode()}})


def dtmf_frame(digit: str) -> str:
    return json.dumps({"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": digit}})


def test_protocol_events() -> None:
    proto = TwilioStream()
    start = proto.receive(start_frame(caller="+15551234", language="en"))
    assert isinstance(start, TwilioStart)
    assert start.custom_parameters == {"caller": "+15551234", "language": "en"}
    assert proto.receive(media_frame(b"\xff" * 160, 20)) == TwilioMedia(b"\xff" * 160, 20, "inbound")
    assert proto.receive(dtmf_frame("#")) == TwilioDtmf("#")
    assert proto.receive(json.dumps({"event": "mark", "streamSid": SID, "mark": {"name": "turn-3"}})) == \
        TwilioMark("turn-3")
    assert isinstance(proto.receive(json.dumps({"event": "stop", "streamSid": SID, "stop": {}})), TwilioStop)
    out = json.loads(proto.clear())
    assert out == {"event": "clear", "streamSid": SID}
    assert json.loads(proto.media(b"\x01\x02"))["media"]["payload"] == "AQI="


@pytest.mark.parametrize("frame, code", [
    ("not json", "protocol-bad-frame"),
    ("[1, 2]", "protocol-bad-frame"),
    ('{"streamSid": "x"}', "twilio-missing-field"),
    (json.dumps({"event": "start", "start": {"streamSid": "x"}}), "twilio-missing-field"),
    (json.dumps({"event": "start", "start": {"streamSid": "x", "callSid": "c",
                                             "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000}}}),
     "twilio-unsupported-format"),
    ("x" * 70000, "twilio-frame-too-large"),
])
def test_protocol_refusals(frame: str, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        TwilioStream().receive(frame)
    assert info.value.code == code


@pytest.mark.parametrize("frame, code", [
    (json.dumps({"event": "media", "streamSid": SID}), "twilio-missing-field"),
    (json.dumps({"event": "media", "media": {"payload": "@@@"}}), "protocol-bad-frame"),
    (json.dumps({"event": "dtmf", "dtmf": {}}), "twilio-missing-field"),
    (json.dumps({"event": "dtmf", "dtmf": {"digit": "x"}}), "protocol-bad-frame"),
    (json.dumps({"event": "mark"}), "twilio-missing-field"),
    (json.dumps({"event": "bogus"}), "protocol-bad-frame"),
])
def test_protocol_refusals_after_start(frame: str, code: str) -> None:
    proto = TwilioStream()
    proto.receive(start_frame())
    with pytest.raises(GatewayError) as info:
        proto.receive(frame)
    assert info.value.code == code


def test_deeply_nested_frames_are_bad_frames_not_recursion_errors() -> None:
    stream = TwilioStream()
    stream.receive(json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1"}}))
    for depth in (100, 10_000):
        with pytest.raises(GatewayError) as err:
            stream.receive('{"event": "media", "media": ' + "[" * depth + "]" * depth + "}")
        assert err.value.code == "protocol-bad-frame"


def test_surrogates_in_custom_parameters_are_replaced() -> None:
    stream = TwilioStream()
    frame = ('{"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1", '
             '"customParameters": {"caller": "+1555\\ud800", "t\\udc00": "x"}}}')
    start = stream.receive(frame)
    assert isinstance(start, TwilioStart)
    assert start.custom_parameters == {"caller": "+1555\ufffd", "t\ufffd": "x"}


def test_media_before_start() -> None:
    with pytest.raises(GatewayError) as info:
        TwilioStream().receive(media_frame(b"\xff"))
    assert info.value.code == "twilio-not-started"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop", "x"]),
       st.dictionaries(st.sampled_from(["start", "media", "dtmf", "mark", "stop", "streamSid"]), json_values,
                       max_size=4))
def test_protocol_fuzz(event: str, body: dict[str, Any]) -> None:
    proto = TwilioStream()
    proto.receive(start_frame())
    with contextlib.suppress(GatewayError):
        proto.receive(json.dumps({"event": event, **body}))


# -- transport, with a protocol-accurate client ------------------------------------------------------

async def next_event(ws: ClientConnection, kind: str, seconds: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            msg = json.loads(await ws.recv())
            if msg["event"] == kind:
                return dict(msg)


async def open_call(factory: ScriptedFactory, **params: str) -> tuple[Any, ClientConnection]:
    server = await serve_phone_websockets(factory, PhoneSettings(handoff_grace_ms=500))
    port = server.sockets[0].getsockname()[1]
    ws = await connect(f"ws://127.0.0.1:{port}{TWILIO_PATH}")
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await ws.send(start_frame(**params))
    await asyncio.wait_for(factory.opened.wait(), 5)
    return server, ws


async def test_call_media_dtmf_marks_and_hangup(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory, caller="+15551234", tenant="acme", language="en")
    try:
        session = factory.sessions[0]
        assert session.request.audio.encoding == "mulaw" and session.request.tenant == "acme"
        assert session.request.language == "en" and session.request.params["caller"] == "+15551234"
        for i in range(25):
            await ws.send(media_frame(bytes([i]) * 160, i * 20))
        await ws.send(json.dumps({"event": "media", "streamSid": SID}))  # malformed: skipped
        await ws.send(dtmf_frame("2"))  # scripted reply: a 2 s tone
        first = await next_event(ws, "media")
        assert len(base64.b64decode(first["media"]["payload"])) == 160 and first["streamSid"] == SID
        mark = await next_event(ws, "mark")
        assert mark["mark"]["name"] == "turn-1"
        await ws.send(json.dumps({"event": "mark", "streamSid": SID, "mark": {"name": "turn-1"}}))
        await ws.send(json.dumps({"event": "stop", "streamSid": SID, "stop": {"callSid": "CA1"}}))
        await asyncio.wait_for(session.ended.wait(), 5)
        assert bytes(session.audio) == b"".join(bytes([i]) * 160 for i in range(25))
        assert session.dtmf == ["2"] and session.marks == [1] and session.closed == "caller-hangup"
    finally:
        await ws.close()
        server.close()


async def test_barge_in_sends_clear_within_200_ms(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory)
    try:
        session = factory.sessions[0]
        await ws.send(dtmf_frame("2"))
        await next_event(ws, "media")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        session.barge_in()
        await next_event(ws, "clear", seconds=1)
        assert (loop.time() - t0) * 1000 < 200
        with pytest.raises(TimeoutError):  # nothing more of the interrupted reply, no mark for it
            msg = await next_event(ws, "mark", seconds=0.5)
            pytest.fail(f"unexpected {msg}")
    finally:
        await ws.close()
        server.close()


async def test_dtmf_zero_hands_off_by_closing_the_stream(factory: ScriptedFactory) -> None:
    server, ws = await open_call(factory)
    try:
        await ws.send(dtmf_frame("0"))
        mark = await next_event(ws, "mark")
        await ws.send(json.dumps({"event": "mark", "streamSid": SID, "mark": mark["mark"]}))
        handoff = await next_event(ws, "mark")
        assert handoff["mark"]["name"] == "handoff-dtmf"
        await asyncio.wait_for(ws.wait_closed(), 3)
        assert ws.close_reason == "handoff"
    finally:
        await ws.close()
        server.close()


async def test_calls_are_independent_and_busy_is_refused() -> None:
    factory = ScriptedFactory(capacity=1)
    server, ws = await open_call(factory)
    try:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}{TWILIO_PATH}") as second:
            await second.send("{broken")
            await second.send(start_frame())
            await asyncio.wait_for(second.wait_closed(), 3)
            assert second.close_reason == "busy"
        await ws.send(dtmf_frame("2"))  # the first call is unaffected
        await next_event(ws, "media")
    finally:
        await ws.close()
        server.close()
