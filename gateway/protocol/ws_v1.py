"""The gateway's own WebSocket protocol, version 1, as a pure object (docs/protocol.md).

Text frames carry JSON messages; binary frames carry audio in the session's format. `receive_*`
turn frames into typed client messages (or raise ProtocolError with a stable code: the caller
sends an error event and keeps the session); `encode` turns session events into frames.
"""

from __future__ import annotations

import base64
import binascii
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
from gateway.protocol.wire import clean_text, dumps_wire, loads_bounded
from gateway.security.identifiers import check_session_id, check_tenant_name

VERSION = 1
MIN_FRAME_MS = 10
MAX_FRAME_MS = 200
MAX_TEXT_CHARS = 4000
LANGUAGES = ("auto", "en", "zh", "yue", "es", "fr", "de", "ja", "ko", "pt", "it", "ru", "ar", "hi", "vi",
             "th", "id", "tr", "nl", "pl")
DIGITS = frozenset("0123456789*#ABCD")
CHANNELS = ("websocket", "browser", "kiosk", "phone")
MAX_TURN_ID = 2**31 - 1
MAX_MEDIA_MS = 24 * 3600 * 1000  # a video frame's t_ms: no session lasts a day


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
            msg = loads_bounded(text)
        except ValueError:  # malformed, or nested deeper than any message of ours
            raise ProtocolError("text frame is not JSON (or nests too deeply)",
                                code="protocol-bad-json") from None
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
            body = clean_text(_field(msg, "text", str))
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
            return Played(_ranged(msg, "turn_id", 0, MAX_TURN_ID))
        if kind == "image":
            return ImageIn(self._b64(msg), clean_text(_optional(msg, "mime", str) or "")[:100])
        if kind == "video.frame":
            t_ms = _ranged(msg, "t_ms", 0, MAX_MEDIA_MS)
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
            wanted = _optional(msg, "session_id", str)
            return AgentTake(None if wanted is None else check_session_id(wanted))
        if kind == "agent.say":
            text = clean_text(_field(msg, "text", str))
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
        # A field that is present must be valid: null, 1.0 or true is refused, never defaulted.
        version = _given(msg, "v", int, VERSION)
        if version != VERSION:
            raise ProtocolError(f"protocol version {version!r} not supported (1)",
                                code="protocol-version")
        audio = _given(msg, "audio", dict, {"encoding": "pcm16", "sample_rate": 16000})
        encoding = _given(audio, "encoding", str, "pcm16")
        rate = _given(audio, "sample_rate", int, None)
        if rate is None:
            raise ProtocolError("'audio' needs 'sample_rate'", code="protocol-bad-field")
        if encoding not in SAMPLE_RATES:
            raise ProtocolError(f"audio encoding {encoding!r} not supported: pcm16, mulaw, alaw",
                                code="audio-unsupported-format")
        if rate not in SAMPLE_RATES[encoding]:
            raise ProtocolError(
                f"sample rate {rate!r} not supported for {encoding}: {SAMPLE_RATES[encoding]}",
                code="audio-unsupported-format")
        language = _given(msg, "language", str, "auto")
        if language not in LANGUAGES:
            raise ProtocolError(f"language {language!r} not supported: {LANGUAGES}",
                                code="protocol-bad-field")
        channel = _given(msg, "channel", str, "websocket")
        if channel not in CHANNELS:
            raise ProtocolError(f"channel {channel!r} not one of {CHANNELS}", code="protocol-bad-field")
        role = _given(msg, "role", str, "caller")
        if role not in ("caller", "agent"):
            raise ProtocolError("role must be 'caller' or 'agent'", code="protocol-bad-field")
        session_id = _given(msg, "session_id", str, None)
        if session_id is not None:
            check_session_id(session_id)  # a strict pattern, and never a phone or card number
        tenant = check_tenant_name(_given(msg, "tenant", str, "default"))
        self.audio = AudioFormat(encoding, rate)
        self.role = role
        return Start(self.audio, language, channel, tenant, session_id, role)

    # ------------------------------------------------------------------ outbound

    def encode(self, event: SessionEvent) -> str | bytes | None:
        """The frame for an event (None: nothing goes on the wire for it)."""
        if isinstance(event, ReplyAudio):
            return event.audio
        return dumps_wire(to_json(event))  # valid UTF-8 whatever the caller's text held


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


def _given(msg: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """An optional field: the default when absent; when present (even null) it must be valid."""
    if name not in msg:
        return default
    if msg[name] is None:
        raise ProtocolError(f"'{name}' must be {kind.__name__}, not null", code="protocol-bad-field")
    return _field(msg, name, kind)


def _ranged(msg: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value: int = _field(msg, name, int)
    if not low <= value <= high:
        raise ProtocolError(f"'{name}' must be {low}..{high}", code="protocol-bad-field")
    return value
