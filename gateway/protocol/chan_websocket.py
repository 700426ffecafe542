"""Asterisk chan_websocket (ARI external media): binary frames carry raw codec audio, text frames
carry control events (from Asterisk) and commands (to Asterisk).

Control frames come as the legacy single-line text form (`MEDIA_START connection_id:x
channel:y format:ulaw optimal_frame_size:160 ptime:20`, `DTMF_END digit:5`) or, since Asterisk
20.18/22.8, as JSON (`{"event": "MEDIA_START", ...}`). Commands are answered in the form the
peer used. Sans-I/O: `receive()` takes one WebSocket message, the command methods return one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import LimitExceeded, MediaError, ProtocolError
from gateway.events import AudioFormat
from gateway.protocol.wire import clean_text, loads_bounded

MAX_TEXT_CHARS = 8192
MAX_AUDIO_BYTES = 16000  # 1 s of ulaw; Asterisk sends optimal_frame_size (160) per frame
FORMATS: Mapping[str, AudioFormat] = {
    "ulaw": AudioFormat("mulaw", 8000), "alaw": AudioFormat("alaw", 8000),
    "slin": AudioFormat("pcm16", 8000), "slin16": AudioFormat("pcm16", 16000)}
DTMF_DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class CwMediaStart:
    connection_id: str
    channel: str
    audio: AudioFormat
    optimal_frame_size: int
    ptime: int


@dataclass(frozen=True)
class CwAudio:
    payload: bytes


@dataclass(frozen=True)
class CwDtmf:
    digit: str


@dataclass(frozen=True)
class CwFlow:
    paused: bool  # MEDIA_XOFF: Asterisk's queue is full, stop sending; MEDIA_XON: resume


@dataclass(frozen=True)
class CwOther:
    """A control event this gateway does not act on (QUEUE_DRAINED, STATUS, ...)."""

    name: str


ChanWebsocketEvent = CwMediaStart | CwAudio | CwDtmf | CwFlow | CwOther


def _int(fields: Mapping[str, Any], key: str, default: int) -> int:
    value = fields.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"chan_websocket {key} is not a number", code="protocol-bad-frame") from None
    if not 0 < number <= 65535:
        raise ProtocolError(f"chan_websocket {key} out of range", code="protocol-bad-frame")
    return number


class ChanWebsocket:
    def __init__(self, *, max_audio_bytes: int = MAX_AUDIO_BYTES) -> None:
        self.max_audio_bytes = max_audio_bytes
        self.json_control = False
        self.started: CwMediaStart | None = None

    def receive(self, message: str | bytes) -> ChanWebsocketEvent:
        if isinstance(message, bytes | bytearray | memoryview):
            if len(message) > self.max_audio_bytes:
                raise LimitExceeded(f"chan_websocket audio frame of {len(message)} bytes",
                                    code="chan-websocket-frame-too-large")
            if self.started is None:
                raise ProtocolError("chan_websocket audio before MEDIA_START",
                                    code="chan-websocket-not-started")
            return CwAudio(bytes(message))
        if len(message) > MAX_TEXT_CHARS:
            raise LimitExceeded("chan_websocket control frame too long",
                                code="chan-websocket-frame-too-large")
        name, fields = self._parse_control(message)
        if name == "MEDIA_START":
            fmt = str(fields.get("format", "ulaw"))
            if fmt not in FORMATS:
                raise MediaError(f"chan_websocket format {fmt[:20]!r} unsupported",
                                 code="chan-websocket-unsupported-format")
            self.started = CwMediaStart(
                connection_id=clean_text(str(fields.get("connection_id", ""))[:256]),
                channel=clean_text(str(fields.get("channel", ""))[:256]), audio=FORMATS[fmt],
                optimal_frame_size=_int(fields, "optimal_frame_size", 160), ptime=_int(fields, "ptime", 20))
            return self.started
        if name == "DTMF_END":
            digit = str(fields.get("digit", ""))
            if digit not in DTMF_DIGITS:
                raise ProtocolError("chan_websocket DTMF_END without a digit",
                                    code="chan-websocket-missing-field")
            return CwDtmf(digit)
        if name in ("MEDIA_XOFF", "MEDIA_XON"):
            return CwFlow(paused=name == "MEDIA_XOFF")
        return CwOther(name[:64])

    def _parse_control(self, message: str) -> tuple[str, Mapping[str, Any]]:
        text = message.strip()
        if text.startswith("{"):
            try:
                obj = loads_bounded(text)
            except ValueError:  # malformed or nested too deeply
                raise ProtocolError("chan_websocket control frame is bad JSON",
                                    code="protocol-bad-frame") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
                raise ProtocolError("chan_websocket control frame without 'event'",
                                    code="chan-websocket-missing-field")
            self.json_control = True
            return obj["event"], obj
        words = text.split()
        if not words or not words[0].replace("_", "").isalnum():
            raise ProtocolError("chan_websocket control frame is empty or garbled", code="protocol-bad-frame")
        fields = dict(w.split(":", 1) for w in words[1:64] if ":" in w)
        return words[0], fields

    # -- outbound commands ------------------------------------------------------------------------
    def command(self, name: str, **params: str) -> str:
        if self.json_control:
            return json.dumps({"command": name, **params})
        return " ".join([name, *(f"{k}:{v}" for k, v in params.items())])

    def answer(self) -> str:
        return self.command("ANSWER")

    def hangup(self) -> str:
        return self.command("HANGUP")

    def flush_media(self) -> str:
        return self.command("FLUSH_MEDIA")
