"""The gateway protocol object: messages in, typed inputs or stable error codes out."""

import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.api import ReplyClause
from gateway.errors import GatewayError
from gateway.events import AudioClear, AudioFormat, CoreOutput, ErrorEvent, ReplyAudio
from gateway.inputs import AudioIn, DtmfIn, End, ImageIn, TextIn, VideoFrameIn
from gateway.protocol.ws_v1 import ServerProtocol, Start

START = json.dumps({"type": "session.start", "v": 1, "language": "en",
                    "audio": {"encoding": "pcm16", "sample_rate": 16000}})


def started(**audio):
    p = ServerProtocol(max_binary_bytes=1 << 20)
    msg = {"type": "session.start", "audio": audio or {"encoding": "pcm16", "sample_rate": 16000}}
    p.receive_text(json.dumps(msg))
    return p


def code_of(fn, *args):
    with pytest.raises(GatewayError) as info:
        fn(*args)
    return info.value.code


def test_start_gives_the_session_format():
    p = ServerProtocol(max_binary_bytes=1 << 20)
    start = p.receive_text(START)
    assert isinstance(start, Start)
    assert start.audio == AudioFormat("pcm16", 16000) and start.language == "en"
    assert start.channel == "websocket" and start.role == "caller"


def test_mulaw_8k_frames_are_160_bytes():
    p = started(encoding="mulaw", sample_rate=8000)
    assert isinstance(p.receive_bytes(bytes(160)), AudioIn)
    assert code_of(p.receive_bytes, bytes(7)) == "audio-bad-frame-size"


@pytest.mark.parametrize("size", [1, 319 * 2 + 1, 160, 16000 * 2])  # odd, odd, 5 ms, 1 s
def test_bad_frame_sizes(size):
    assert code_of(started().receive_bytes, bytes(size)) == "audio-bad-frame-size"


def test_audio_before_start():
    p = ServerProtocol(max_binary_bytes=1 << 20)
    assert code_of(p.receive_bytes, bytes(640)) == "protocol-not-started"
    assert code_of(p.receive_text, '{"type": "text", "text": "hi"}') == "protocol-not-started"


@pytest.mark.parametrize("audio", [{"encoding": "pcm16", "sample_rate": 44100},
                                   {"encoding": "mulaw", "sample_rate": 16000},
                                   {"encoding": "opus", "sample_rate": 48000}])
def test_unsupported_audio_formats(audio):
    p = ServerProtocol(max_binary_bytes=1 << 20)
    msg = json.dumps({"type": "session.start", "audio": audio})
    assert code_of(p.receive_text, msg) == "audio-unsupported-format"
    assert p.audio is None  # a failed start leaves the connection able to start again


@pytest.mark.parametrize("text,code", [
    ("not json", "protocol-bad-json"),
    ("[1, 2]", "protocol-bad-json"),
    ('{"no": "type"}', "protocol-missing-field"),
    ('{"type": "teleport"}', "protocol-unknown-type"),
    ('{"type": "text"}', "protocol-missing-field"),
    ('{"type": "text", "text": 5}', "protocol-bad-field"),
    ('{"type": "dtmf", "digit": "x"}', "protocol-bad-field"),
    ('{"type": "image", "data": "***"}', "protocol-bad-field"),
    ('{"type": "video.frame", "data": "", "t_ms": -1}', "protocol-bad-field"),
    (START, "protocol-already-started"),
])
def test_malformed_messages(text, code):
    assert code_of(started().receive_text, text) == code


def test_inputs():
    p = started()
    assert p.receive_text('{"type": "text", "text": "hello"}') == TextIn("hello")
    assert p.receive_text('{"type": "dtmf", "digit": "#"}') == DtmfIn("#")
    img = base64.b64encode(b"\x89PNG....").decode()
    assert p.receive_text(json.dumps({"type": "image", "data": img})) == ImageIn(b"\x89PNG....", "")
    frame = p.receive_text(json.dumps({"type": "video.frame", "data": img, "t_ms": 40}))
    assert frame == VideoFrameIn(b"\x89PNG....", 40)
    assert isinstance(p.receive_text('{"type": "session.end"}'), End)
    assert code_of(p.receive_bytes, bytes(640)) == "protocol-ended"


def test_oversized_base64_is_refused_before_decoding():
    p = ServerProtocol(max_binary_bytes=1000)
    p.receive_text(START)
    msg = json.dumps({"type": "image", "data": "A" * 4000})
    assert code_of(p.receive_text, msg) == "limit-exceeded"


def test_encoding_events():
    p = started()
    assert p.encode(ReplyAudio(1, b"\x00\x01", 0)) == b"\x00\x01"
    wire = json.loads(p.encode(CoreOutput(3, ReplyClause("Hi.", "en", ("kb:1",), True))))
    assert wire == {"type": "reply.text", "text": "Hi.", "language": "en", "sources": ["kb:1"],
                    "final": True, "turn_id": 3}
    assert json.loads(p.encode(AudioClear(3, 1200)))["type"] == "audio.clear"
    assert json.loads(p.encode(ErrorEvent("x-y", "m"))) == {"type": "error", "code": "x-y",
                                                             "message": "m", "fatal": False}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_fuzz_text_frames_never_crash(text):
    p = started()
    try:
        p.receive_text(text)
    except GatewayError as exc:
        assert exc.code and exc.code == exc.code.lower()


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "text", "digit", "data", "t_ms", "turn_id", "audio",
                                        "language", "v", "channel", "session_id"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans(),
                                 st.lists(st.integers(), max_size=3),
                                 st.sampled_from(["session.start", "text", "dtmf", "image",
                                                  "video.frame", "played", "barge_in"]))))
def test_fuzz_structured_messages(msg):
    for p in (ServerProtocol(max_binary_bytes=1 << 16), started()):
        with contextlib.suppress(GatewayError):
            p.receive_text(json.dumps(msg))


def test_agent_messages_need_the_agent_role():
    caller = started()
    assert code_of(caller.receive_text, '{"type": "agent.take"}') == "protocol-forbidden"
    agent = ServerProtocol(max_binary_bytes=1 << 20)
    agent.receive_text('{"type": "session.start", "role": "agent"}')
    from gateway.protocol.ws_v1 import AgentSay, AgentTake

    assert agent.receive_text('{"type": "agent.take"}') == AgentTake(None)
    assert agent.receive_text('{"type": "agent.say", "text": " Hi "}') == AgentSay("Hi")
    assert code_of(agent.receive_text, '{"type": "text", "text": "x"}') == "protocol-forbidden"
    assert code_of(agent.receive_text, '{"type": "agent.say", "text": ""}') == "protocol-bad-field"


def test_webrtc_offer_and_sign_confirm():
    from gateway.inputs import SignConfirm
    from gateway.protocol.ws_v1 import WebRtcOffer

    p = started()
    assert p.receive_text('{"type": "webrtc.offer", "sdp": "v=0"}') == WebRtcOffer("v=0")
    huge_offer = json.dumps({"type": "webrtc.offer", "sdp": "x" * 30000})
    assert code_of(p.receive_text, huge_offer) == "webrtc-bad-offer"
    assert p.receive_text('{"type": "sign.confirm", "yes": true}') == SignConfirm(True)
    assert code_of(p.receive_text, '{"type": "sign.confirm", "yes": 1}') == "protocol-bad-field"
