"""The protocol v1 framing of the Pipecat comparison bot (benchmarks/pipecat/v1_wire.py): the
frames `gateway loadtest` sends must decode to what the bot's serializer hands Pipecat, and what
it answers must parse as the gateway's own events do. The module is standard library only, so it
is checked here without Pipecat installed."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import numpy as np
import pytest

from gateway.cli.processes import PROJECT
from gateway.client import encode_frames
from gateway.events import AudioFormat


@pytest.fixture(scope="module")
def wire() -> ModuleType:
    path = PROJECT / "benchmarks" / "pipecat" / "v1_wire.py"
    spec = importlib.util.spec_from_file_location("v1_wire", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_loadtest_clients_audio_frames_reach_pipecat_as_16k_pcm(wire: ModuleType) -> None:
    tone = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440).astype(np.float32) * 0.5
    frames = encode_frames(tone, 16000, AudioFormat("pcm16", 16000), 20)
    decoded = [wire.decode(f) for f in frames]
    assert all(isinstance(d, wire.Audio) for d in decoded)
    assert b"".join(d.pcm16 for d in decoded) == b"".join(frames)
    assert len(decoded[0].pcm16) == 640  # 20 ms at 16 kHz


def test_session_start_and_end_are_recognised(wire: ModuleType) -> None:
    start = wire.decode(json.dumps({"type": "session.start", "v": 1, "language": "en", "channel": "websocket",
                                    "audio": {"encoding": "pcm16", "sample_rate": 16000}}))
    assert start == wire.Start("en")
    assert wire.decode(json.dumps({"type": "session.end"})) == wire.End()
    assert wire.decode(json.dumps({"type": "dtmf", "digit": "1"})) is None  # ignored, not an error


@pytest.mark.parametrize("data, code", [
    (b"\x00" * 641, "audio-bad-frame-size"),  # not whole samples
    (b"\x00" * 6402, "audio-bad-frame-size"),  # over 200 ms
    (b"", "audio-bad-frame-size"),
    ("{not json", "protocol-bad-json"),
    ("[1, 2]", "protocol-bad-json"),
    ('{"type": "session.start", "audio": {"encoding": "mulaw", "sample_rate": 8000}}',
     "audio-unsupported-format"),
    ("x" * 70000, "message-too-large"),
])
def test_bad_frames_are_refused_with_the_gateways_codes(wire: ModuleType, data: str | bytes,
                                                        code: str) -> None:
    refused = wire.decode(data)
    assert isinstance(refused, wire.Refused) and refused.code == code
    event = json.loads(wire.encode(wire.error(refused)))
    assert event["type"] == "error" and event["code"] == code and event["fatal"] is False


def test_session_started_carries_what_the_client_waits_for(wire: ModuleType) -> None:
    event = json.loads(wire.encode(wire.started("pipecat-1", "en")))
    assert event["type"] == "session.started" and event["session_id"] == "pipecat-1"
    assert event["audio"] == {"encoding": "pcm16", "sample_rate": 16000}
