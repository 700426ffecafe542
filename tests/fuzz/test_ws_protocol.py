"""Fuzzing the WebSocket protocol object with binary garbage, random JSON and message sequences:
every input yields a typed message or a GatewayError with a stable kebab-case code."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.protocol.ws_v1 import ServerProtocol

CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPES = ["session.start", "session.end", "text", "dtmf", "image", "video.frame", "webrtc.offer", "played",
         "barge_in", "sign.confirm", "agent.list", "agent.take", "agent.say", "agent.release", "nope", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={k: json_values for k in ("v", "audio", "language", "channel", "role", "session_id", "tenant",
                                       "text", "digit", "data", "t_ms", "turn_id", "yes", "sdp", "mime")})
start = {"type": "session.start", "v": 1, "audio": {"encoding": "pcm16", "sample_rate": 16000}}


def feed(protocol: ServerProtocol, frame: str | bytes) -> Any:
    try:
        return protocol.receive_bytes(frame) if isinstance(frame, bytes) else protocol.receive_text(frame)
    except GatewayError as exc:
        assert CODE.match(exc.code), exc.code
        return exc


@FUZZ
@given(st.binary(max_size=4096))
def test_binary_garbage_before_and_after_start(data: bytes) -> None:
    fresh = ServerProtocol(max_binary_bytes=65536)
    assert isinstance(feed(fresh, data), GatewayError)  # nothing before session.start
    started = ServerProtocol(max_binary_bytes=65536)
    feed(started, json.dumps(start))
    result = feed(started, data)
    if not isinstance(result, GatewayError):
        assert result.payload == data and len(data) % 2 == 0


@FUZZ
@given(st.binary(max_size=2048))
def test_binary_garbage_as_text(data: bytes) -> None:
    feed(ServerProtocol(max_binary_bytes=65536), data.decode("utf-8", errors="replace"))


@FUZZ
@given(st.lists(messages | st.binary(max_size=700), max_size=12), st.booleans())
def test_message_sequences(frames: list[Any], begin: bool) -> None:
    protocol = ServerProtocol(max_binary_bytes=4096)
    if begin:
        feed(protocol, json.dumps(start))
    for frame in frames:
        feed(protocol, frame if isinstance(frame, bytes) else json.dumps(frame))


@FUZZ
@given(st.integers(1, 5000))
def test_deep_nesting(depth: int) -> None:
    feed(ServerProtocol(max_binary_bytes=4096), "[" * depth + "]" * depth)
    feed(ServerProtocol(max_binary_bytes=4096), '{"type": "text", "text": ' + "[" * depth + "]" * depth + "}")


@FUZZ
@given(st.text(max_size=64), st.integers(0, 10))
def test_oversized_base64_refused_before_decoding(noise: str, extra: int) -> None:
    protocol = ServerProtocol(max_binary_bytes=1024)
    feed(protocol, json.dumps(start))
    big = "A" * (1024 * 4 // 3 + 8 + extra)
    result = feed(protocol, json.dumps({"type": "image", "data": big, "mime": noise}))
    assert isinstance(result, GatewayError) and result.code == "limit-exceeded"


surrogate_text = st.lists(st.sampled_from(["a", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "\\"]),
                          min_size=1, max_size=12).map("".join)


@FUZZ
@given(surrogate_text, st.integers(1, 5000))
def test_escaped_surrogates_and_deep_nesting_never_escape_as_other_errors(text: str, depth: int) -> None:
    """Issue 16: the JSON escape of a lone surrogate and 10,000-level nesting are inputs like any
    other: a typed message whose strings encode as UTF-8, or a GatewayError."""
    protocol = ServerProtocol(max_binary_bytes=65536)
    feed(protocol, json.dumps(start))
    for frame in ('{"type": "text", "text": "' + text + '"}', '{"type": "text", "text": "x", "n": '
                  + "[" * depth + "]" * depth + "}"):
        result = feed(protocol, frame)
        if not isinstance(result, GatewayError):
            result.text.encode("utf-8")
