"""The gateway's WebSocket protocol v1 (docs/protocol.md), as much as a voice-loop bot needs.

Standard library only: the Pipecat bot (bot.py, run in Pipecat's own virtualenv) wraps these
functions in a Pipecat FrameSerializer, and tests/protocol/test_pipecat_wire.py checks them in the
project's virtualenv, where Pipecat is not installed. So the same `gateway loadtest` client that
measures `gateway serve` measures the Pipecat bot, frame for frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SAMPLE_RATE = 16000
MAX_TEXT_BYTES = 64 * 1024  # a session.start is a few hundred bytes
MAX_AUDIO_BYTES = 6400  # 200 ms of pcm16 at 16 kHz, the protocol's largest frame


@dataclass(frozen=True)
class Audio:
    pcm16: bytes  # 16 kHz mono signed 16-bit little-endian


@dataclass(frozen=True)
class Start:
    language: str


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Refused:
    """A frame this bot does not take: the caller gets an `error` event, the session goes on."""

    code: str
    message: str


ClientFrame = Audio | Start | End | Refused


def decode(data: str | bytes) -> ClientFrame | None:
    """One WebSocket frame from the caller; None for messages a voice loop ignores (dtmf, played)."""
    if isinstance(data, bytes):
        if not data or len(data) % 2 or len(data) > MAX_AUDIO_BYTES:
            return Refused("audio-bad-frame-size", f"{len(data)} bytes is not 1..200 ms of pcm16")
        return Audio(data)
    if len(data) > MAX_TEXT_BYTES:
        return Refused("message-too-large", f"text frame of {len(data)} characters")
    try:
        message = json.loads(data)
    except ValueError:
        return Refused("protocol-bad-json", "not JSON")
    if not isinstance(message, dict):
        return Refused("protocol-bad-json", "not a JSON object")
    kind = message.get("type")
    if kind == "session.start":
        audio = message.get("audio") or {}
        if not isinstance(audio, dict) or audio.get("encoding", "pcm16") != "pcm16" \
                or audio.get("sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
            return Refused("audio-unsupported-format", "this bot takes pcm16 at 16000 Hz only")
        language = message.get("language", "auto")
        return Start(language if isinstance(language, str) else "auto")
    if kind == "session.end":
        return End()
    return None


def encode(event: dict[str, Any]) -> str:
    """A gateway-to-client event as its text frame."""
    return json.dumps(event, ensure_ascii=False)


def started(session_id: str, language: str) -> dict[str, Any]:
    return {"type": "session.started", "v": 1, "session_id": session_id, "language": language,
            "audio": {"encoding": "pcm16", "sample_rate": SAMPLE_RATE}}


def error(refused: Refused) -> dict[str, Any]:
    return {"type": "error", "code": refused.code, "message": refused.message, "fatal": False}
