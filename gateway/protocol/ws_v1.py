"""The gateway's own WebSocket protocol, version 1, as a pure object (docs/protocol.md).

Text frames carry JSON messages; binary frames carry audio in the session's format. `receive_*`
turn frames into typed client messages (or raise ProtocolError with a stable code: the caller
sends an error event and keeps the session); `encode` turns session events into frames.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.api import ReplyClause
from gateway.errors import LimitExceeded, ProtocolError
from gateway.events import (
    SAMPLE_RATES,
    AudioClear,
    AudioFormat,
    Caption,
    CoreOutput,
    ErrorEvent,
    ReplyAudio,
    ReplyAudioEnd,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TranscriptFinal,
    TranscriptPartial,
    TurnTiming,
)
from gateway.inputs import (
    AudioIn,
    BargeInRequest,
    DtmfIn,
    End,
    ImageIn,
    Played,
    SessionInput,
    SignConfirm,
    TextIn,
    VideoFrameIn,
)

VERSION = 1
MIN_FRAME_MS = 10
MAX_FRAME_MS = 200
MAX_TEXT_CHARS = 4000
LANGUAGES = ("auto", "en", "zh", "yue", "es", "fr", "de", "ja", "ko", "pt", "it", "ru", "ar", "hi", "vi",
             "th", "id", "tr", "nl", "pl")
DIGITS = frozenset("0123456789*#ABCD")
CHANNELS = ("websocket", "browser", "kiosk", "phone")


@dataclass(frozen=True)
class Start:
    audio: AudioFormat
    language: str
    channel: str
    tenant: str
    session_id: str | None
    role: str  # "caller" | "agent"


@dataclass(frozen=True)
class WebRtcOffer:
    """Signalling for a media peer beside this session (docs/protocol.md, WebRTC)."""

    sdp: str


@dataclass(frozen=True)
class AgentList:
    pass


@dataclass(frozen=True)
class AgentTake:
    session_id: str | None  # None: the next waiting session (urgent first)


@dataclass(frozen=True)
class AgentSay:
    text: str


@dataclass(frozen=True)
class AgentRelease:
    pass


AgentMessage = AgentList | AgentTake | AgentSay | AgentRelease
MAX_SDP_CHARS = 20_000
ClientMessage = Start | WebRtcOffer | AgentMessage | SessionInput


class ServerProtocol:
    """One connection's state: not started -> started -> ended."""

    def __init__(self, *, max_binary_bytes: int) -> None:
        self.max_binary_bytes = max_binary_bytes
        self.audio: AudioFormat | None = None
        self.role = "caller"
        self.ended = False

    # ------------------------------------------------------------------ inbound

    def receive_bytes(self, data: bytes) -> AudioIn:
        if self.audio is None:
            raise ProtocolError("audio frame before session.start", code="protocol-not-started")
        if self.ended:
            raise ProtocolError("audio after session.end", code="protocol-ended")
        size = len(data)
        ms = self.audio.duration_ms(size)
        if size % self.audio.bytes_per_sample or not MIN_FRAME_MS <= ms <= MAX_FRAME_MS:
            raise ProtocolError(
                f"audio frame of {size} bytes is {ms:.1f} ms of {self.audio.encoding} "
                f"{self.audio.sample_rate} Hz; frames must hold whole samples and "
                f"{MIN_FRAME_MS}..{MAX_FRAME_MS} ms (20 ms = {self.audio.frame_bytes(20)} bytes)",
                code="audio-bad-frame-size")
        return AudioIn(data)

    def receive_text(self, text: str) -> ClientMessage:
        try:
            msg = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise ProtocolError("text frame is not JSON", code="protocol-bad-json") from None
        if not isinstance(msg, dict):
            raise ProtocolError("message must be a JSON object", code="protocol-bad-json")
        kind = msg.get("type")
        if not isinstance(kind, str):
            raise ProtocolError("message has no string 'type'", code="protocol-missing-field")
        if kind == "session.start":
            return self._start(msg)
        if self.audio is None:
            raise ProtocolError(f"{kind!r} before session.start", code="protocol-not-started")
        if self.ended:
            raise ProtocolError(f"{kind!r} after session.end", code="protocol-ended")
        if kind.startswith("agent."):
            return self._agent(kind, msg)
        if self.role == "agent" and kind not in ("session.end",):
            raise ProtocolError(f"{kind!r} is a caller message; agents use agent.*",
                                code="protocol-forbidden")
        if kind == "text":
            body = _field(msg, "text", str)
            if not body.strip() or len(body) > MAX_TEXT_CHARS:
                raise ProtocolError(f"text must be 1..{MAX_TEXT_CHARS} characters",
                                    code="protocol-bad-field")
            return TextIn(body)
        if kind == "dtmf":
            digit = _field(msg, "digit", str)
            if digit not in DIGITS:
                raise ProtocolError(f"dtmf digit {digit!r} is not one of 0-9 * # A-D",
                                    code="protocol-bad-field")
            return DtmfIn(digit)
        if kind == "barge_in":
            return BargeInRequest()
        if kind == "sign.confirm":
            return SignConfirm(_field(msg, "yes", bool))
        if kind == "played":
            return Played(_field(msg, "turn_id", int))
        if kind == "image":
            return ImageIn(self._b64(msg), _optional(msg, "mime", str) or "")
        if kind == "video.frame":
            t_ms = _field(msg, "t_ms", int)
            if t_ms < 0:
                raise ProtocolError("t_ms must be >= 0", code="protocol-bad-field")
            return VideoFrameIn(self._b64(msg), t_ms)
        if kind == "webrtc.offer":
            sdp = _field(msg, "sdp", str)
            if not 0 < len(sdp) <= MAX_SDP_CHARS:
                raise ProtocolError(f"sdp must be 1..{MAX_SDP_CHARS} characters", code="webrtc-bad-offer")
            return WebRtcOffer(sdp)
        if kind == "session.end":
            self.ended = True
            return End()
        raise ProtocolError(f"unknown message type {kind!r}", code="protocol-unknown-type")

    def _agent(self, kind: str, msg: Mapping[str, Any]) -> AgentMessage:
        if self.role != "agent":
            raise ProtocolError(f"{kind!r} needs a session started with role 'agent'",
                                code="protocol-forbidden")
        if kind == "agent.list":
            return AgentList()
        if kind == "agent.take":
            return AgentTake(_optional(msg, "session_id", str))
        if kind == "agent.say":
            text = _field(msg, "text", str)
            if not text.strip() or len(text) > MAX_TEXT_CHARS:
                raise ProtocolError(f"text must be 1..{MAX_TEXT_CHARS} characters", code="protocol-bad-field")
            return AgentSay(text.strip())
        if kind == "agent.release":
            return AgentRelease()
        raise ProtocolError(f"unknown message type {kind!r}", code="protocol-unknown-type")

    def _b64(self, msg: Mapping[str, Any]) -> bytes:
        raw = _field(msg, "data", str)
        if len(raw) > self.max_binary_bytes * 4 // 3 + 4:
            raise LimitExceeded(f"data is over {self.max_binary_bytes} bytes", code="limit-exceeded")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("data is not valid base64", code="protocol-bad-field") from None

    def _start(self, msg: Mapping[str, Any]) -> Start:
        if self.audio is not None:
            raise ProtocolError("session already started", code="protocol-already-started")
        version = msg.get("v", VERSION)
        if version != VERSION:
            raise ProtocolError(f"protocol version {version!r} not supported (1)",
                                code="protocol-version")
        audio = msg.get("audio") or {"encoding": "pcm16", "sample_rate": 16000}
        if not isinstance(audio, dict):
            raise ProtocolError("'audio' must be an object", code="protocol-bad-field")
        encoding = audio.get("encoding", "pcm16")
        rate = audio.get("sample_rate")
        if encoding not in SAMPLE_RATES:
            raise ProtocolError(f"audio encoding {encoding!r} not supported: pcm16, mulaw, alaw",
                                code="audio-unsupported-format")
        if rate not in SAMPLE_RATES[encoding]:
            raise ProtocolError(
                f"sample rate {rate!r} not supported for {encoding}: {SAMPLE_RATES[encoding]}",
                code="audio-unsupported-format")
        language = _optional(msg, "language", str) or "auto"
        if language not in LANGUAGES:
            raise ProtocolError(f"language {language!r} not supported: {LANGUAGES}",
                                code="protocol-bad-field")
        channel = _optional(msg, "channel", str) or "websocket"
        if channel not in CHANNELS:
            raise ProtocolError(f"channel {channel!r} not one of {CHANNELS}", code="protocol-bad-field")
        role = _optional(msg, "role", str) or "caller"
        if role not in ("caller", "agent"):
            raise ProtocolError("role must be 'caller' or 'agent'", code="protocol-bad-field")
        session_id = _optional(msg, "session_id", str)
        if session_id is not None and not (0 < len(session_id) <= 64 and session_id.isprintable()):
            raise ProtocolError("session_id must be 1..64 printable characters", code="protocol-bad-field")
        tenant = _optional(msg, "tenant", str) or "default"
        self.audio = AudioFormat(encoding, rate)
        self.role = role
        return Start(self.audio, language, channel, tenant[:64], session_id, role)

    # ------------------------------------------------------------------ outbound

    def encode(self, event: SessionEvent) -> str | bytes | None:
        """The frame for an event (None: nothing goes on the wire for it)."""
        if isinstance(event, ReplyAudio):
            return event.audio
        return json.dumps(to_json(event), ensure_ascii=False, separators=(",", ":"))


def to_json(event: SessionEvent) -> dict[str, Any]:
    if isinstance(event, SessionStarted):
        return {"type": "session.started", "v": VERSION, "session_id": event.session_id,
                "language": event.language,
                "audio": {"encoding": event.audio.encoding, "sample_rate": event.audio.sample_rate}}
    if isinstance(event, TranscriptPartial):
        return {"type": "transcript.partial", "turn_id": event.turn_id, "text": event.text,
                "language": event.language}
    if isinstance(event, TranscriptFinal):
        return {"type": "transcript.final", "turn_id": event.turn_id, "text": event.text,
                "language": event.language, "modality": event.modality}
    if isinstance(event, CoreOutput):
        body = event.event.to_wire()
        body["turn_id"] = event.turn_id
        return body
    if isinstance(event, ReplyAudioEnd):
        return {"type": "reply.audio.end", "turn_id": event.turn_id}
    if isinstance(event, AudioClear):
        return {"type": "audio.clear", "turn_id": event.turn_id, "media_time_ms": event.media_time_ms}
    if isinstance(event, TurnTiming):
        return {"type": "turn.timing", "turn_id": event.turn_id,
                "stages": {k: round(v, 1) for k, v in event.stages.items()},
                "reply_latency_ms": None if event.reply_latency_ms is None
                else round(event.reply_latency_ms, 1)}
    if isinstance(event, ErrorEvent):
        return {"type": "error", "code": event.code, "message": event.message, "fatal": event.fatal}
    if isinstance(event, Caption):
        return {"type": "caption", "kind": event.kind, "text": event.text, **dict(event.detail)}
    if isinstance(event, SessionEnded):
        return {"type": "session.ended", "session_id": event.session_id, "reason": event.reason}
    if isinstance(event, ReplyAudio):
        return {"type": "reply.audio", "turn_id": event.turn_id, "seq": event.seq,
                "bytes": len(event.audio)}
    raise TypeError(f"no wire form for {type(event).__name__}")


def reply_text(turn_id: int, clause: ReplyClause) -> dict[str, Any]:
    return to_json(CoreOutput(turn_id, clause))


def _field(msg: Mapping[str, Any], name: str, kind: type) -> Any:
    value = msg.get(name)
    if value is None:
        raise ProtocolError(f"message {msg.get('type')!r} needs '{name}'", code="protocol-missing-field")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"'{name}' must be {kind.__name__}", code="protocol-bad-field")
    return value


def _optional(msg: Mapping[str, Any], name: str, kind: type) -> Any:
    return None if msg.get(name) is None else _field(msg, name, kind)
