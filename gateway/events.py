"""Typed events a session emits to its channel, a closed set of frozen dataclasses.

Transports map these onto their wire (the gateway WebSocket protocol, Twilio media streams,
AudioSocket, RTP, a WebRTC data channel). `control` events survive a barge-in; media and reply
events of the interrupted turn are dropped by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.core.api import CoreEvent

Encoding = Literal["pcm16", "mulaw", "alaw"]
SAMPLE_RATES: Mapping[Encoding, tuple[int, ...]] = {
    "pcm16": (8000, 16000, 48000), "mulaw": (8000,), "alaw": (8000,)}


@dataclass(frozen=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    def frame_bytes(self, ms: int = 20) -> int:
        return self.sample_rate * ms // 1000 * self.bytes_per_sample

    def duration_ms(self, n_bytes: int) -> float:
        return n_bytes / self.bytes_per_sample / self.sample_rate * 1000.0


@dataclass(frozen=True)
class SessionStarted:
    session_id: str
    audio: AudioFormat
    language: str


@dataclass(frozen=True)
class TranscriptPartial:
    turn_id: int
    text: str
    language: str


@dataclass(frozen=True)
class TranscriptFinal:
    turn_id: int
    text: str
    language: str
    modality: str  # "speech" | "text" | "screen" | "sign" | "dtmf"


@dataclass(frozen=True)
class CoreOutput:
    """Anything the conversation core said for this turn (reply clause, handoff, state...)."""

    turn_id: int
    event: CoreEvent


@dataclass(frozen=True)
class ReplyAudio:
    """A piece of reply speech in the session's audio format (any length; transports frame it)."""

    turn_id: int
    audio: bytes
    seq: int


@dataclass(frozen=True)
class ReplyAudioEnd:
    turn_id: int


@dataclass(frozen=True)
class AudioClear:
    """Barge-in: drop every reply audio byte not yet played (Twilio clear, FLUSH_MEDIA, stop RTP)."""

    turn_id: int
    media_time_ms: int  # caller media time at which speech was detected


@dataclass(frozen=True)
class TurnTiming:
    """Per-stage timings of one turn, milliseconds (ingest, recognise, understand, reply, speak)."""

    turn_id: int
    stages: Mapping[str, float]
    reply_latency_ms: float | None  # end of caller speech to first reply audio sent


@dataclass(frozen=True)
class ErrorEvent:
    code: str
    message: str
    fatal: bool = False  # True only when the session itself ends


@dataclass(frozen=True)
class Caption:
    """Live text for the screen: recognised sign letters/words, or similar non-final captions."""

    text: str
    kind: str  # "sign-letter" | "sign-word" | ...
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionEnded:
    session_id: str
    reason: str


SessionEvent = (SessionStarted | TranscriptPartial | TranscriptFinal | CoreOutput | ReplyAudio
                | ReplyAudioEnd | AudioClear | TurnTiming | ErrorEvent | Caption | SessionEnded)

# Events that a barge-in cancels if still queued; everything else is control and always delivered.
CANCELLABLE = (ReplyAudio, ReplyAudioEnd)
