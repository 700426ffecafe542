"""The phone side's one internal frame type, its settings, and the pure call bridge every phone
transport shares.

Each phone protocol (Twilio-style, AudioSocket, chan_websocket, SIP/RTP) turns its wire into
`PhoneInput` items; `CallBridge` turns session events into `PhoneCommand`s, framing reply audio
into 20 ms `TelephonyFrame`s and pacing them on a media clock (the `now_ms` its caller passes).
Only the asyncio shell (`gateway/transports/phone_bridge.py`) reads a clock.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from gateway.core.api import Handoff
from gateway.errors import ConfigError, MediaError
from gateway.events import (
    AudioClear,
    AudioFormat,
    CoreOutput,
    ErrorEvent,
    ReplyAudio,
    ReplyAudioEnd,
    SessionEnded,
    SessionEvent,
)
from gateway.protocol.rtp import Conceal, fade_conceal
from modalities.audio.codecs import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

SILENCE_BYTE = {"mulaw": b"\xff", "alaw": b"\xd5", "pcm16": b"\x00"}


@dataclass(frozen=True)
class PhoneSettings:
    """Settings of the phone line (section `phone`)."""

    sip_host: str = "127.0.0.1"  # address the SIP endpoint binds and advertises
    sip_port: int = 5080  # 0: any free port
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    sip_codecs: tuple[str, ...] = ("PCMU", "PCMA")  # preference when the offer allows both
    agent_uri: str = "sip:agent@127.0.0.1:5090"  # REFER target when the core hands off to a person
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    max_calls: int = 50
    jitter_ms: int = 60  # jitter buffer depth
    handoff_grace_ms: int = 3000  # let "connecting you to a person" finish before the transfer
    websocket_lead_ms: int = 200  # how far ahead of playout Twilio/chan_websocket get audio

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        try:
            unspecified = ipaddress.ip_address(self.sip_host).is_unspecified
        except ValueError:
            raise ConfigError("phone.sip_host must be an IP address") from None
        # it is also advertised in Contact and SDP, where 0.0.0.0 would mean "on hold"
        check(not unspecified, "phone.sip_host must be the address peers reach, not 0.0.0.0 or ::")
        check(0 <= self.sip_port <= 65535 and 0 <= self.audiosocket_port <= 65535,
              "phone.sip_port/audiosocket_port must be 0..65535 (0: any free port)")
        check(1024 <= self.rtp_port_min < self.rtp_port_max <= 65535 and self.rtp_port_min % 2 == 0,
              "phone.rtp_port_min..rtp_port_max must be an even-started range in 1024..65535")
        check(set(self.sip_codecs) <= {"PCMU", "PCMA"} and bool(self.sip_codecs),
              "phone.sip_codecs must be a non-empty subset of PCMU, PCMA")
        check(self.agent_uri.startswith(("sip:", "sips:")), "phone.agent_uri must be a sip: URI")
        check(1 <= self.max_calls <= 1000, "phone.max_calls must be 1..1000")
        check(20 <= self.jitter_ms <= 500, "phone.jitter_ms must be 20..500")
        check(0 <= self.handoff_grace_ms <= 30000, "phone.handoff_grace_ms must be 0..30000")
        check(0 <= self.websocket_lead_ms <= 2000, "phone.websocket_lead_ms must be 0..2000")


DEFAULT_SETTINGS = PhoneSettings()


# -- inputs: what a phone wire tells the session -------------------------------------------------

@dataclass(frozen=True)
class TelephonyFrame:
    """Call audio in the session's format, stamped with the call's media time."""

    audio: bytes
    media_time_ms: int


@dataclass(frozen=True)
class PhoneDtmf:
    digit: str


@dataclass(frozen=True)
class PhoneMark:
    """The far end played reply audio up to this mark (Twilio echoes the marks we send)."""

    name: str


@dataclass(frozen=True)
class PhoneHangup:
    reason: str


PhoneInput = TelephonyFrame | PhoneDtmf | PhoneMark | PhoneHangup


# -- commands: what the session tells a phone wire -----------------------------------------------

@dataclass(frozen=True)
class PlayFrame:
    frame: TelephonyFrame  # one frame of reply audio, due now


@dataclass(frozen=True)
class ClearPlayback:
    """Barge-in: the far end must drop what it has buffered (Twilio clear, FLUSH_MEDIA)."""


@dataclass(frozen=True)
class SendMark:
    name: str


@dataclass(frozen=True)
class MarkPlayed:
    turn_id: int  # report to the session: this turn's reply was heard in full


@dataclass(frozen=True)
class Transfer:
    reason: str
    urgent: bool


@dataclass(frozen=True)
class Hangup:
    reason: str


PhoneCommand = PlayFrame | ClearPlayback | SendMark | MarkPlayed | Transfer | Hangup


def mark_name(turn_id: int) -> str:
    return f"turn-{turn_id}"


def mark_turn(name: str) -> int | None:
    prefix, _, number = name.partition("-")
    return int(number) if prefix == "turn" and number.isdigit() and len(number) < 10 else None


@dataclass
class CallBridge:
    """Session events to phone commands for one call. Reply audio is cut into `frame_ms` frames
    and released `lead_ms` ahead of the media clock (0 for RTP and AudioSocket, whose far end
    plays what arrives; more for WebSocket peers that buffer and can flush)."""

    audio: AudioFormat
    frame_ms: int = 20
    lead_ms: int = 0
    far_end_marks: bool = False  # the far end echoes marks (Twilio); else played = sent + lead
    handoff_grace_ms: int = 3000
    max_queue_frames: int = 3000  # 60 s of reply audio; beyond that the oldest is dropped
    _queue: deque[tuple[int, bytes | None]] = field(default_factory=deque)  # (turn, frame | None=end)
    _partial: bytearray = field(default_factory=bytearray)
    _next_at: int | None = None  # media time the next frame is due to start playing
    _pending_marks: deque[tuple[int, int]] = field(default_factory=deque)  # (due ms, turn)
    _cleared: deque[int] = field(default_factory=lambda: deque(maxlen=16))
    _heard: deque[int] = field(default_factory=lambda: deque(maxlen=16))  # turns played in full
    _handoff: tuple[Handoff, int, int] | None = None  # (handoff, turn, deadline ms)
    paused: bool = False  # far end asked us to stop sending (MEDIA_XOFF)
    dropped_frames: int = 0

    def on_event(self, event: SessionEvent, now_ms: int) -> list[PhoneCommand]:
        if isinstance(event, ReplyAudio):
            if event.turn_id not in self._cleared:
                self._add_audio(event.turn_id, event.audio)
            return []
        if isinstance(event, ReplyAudioEnd):
            if event.turn_id not in self._cleared:
                self._flush_partial(event.turn_id)
                self._queue.append((event.turn_id, None))
            return []
        if isinstance(event, AudioClear):
            self._cleared.append(event.turn_id)
            had = bool(self._queue) or self.lead_ms > 0
            self._queue.clear()
            self._partial.clear()
            self._pending_marks.clear()
            self._next_at = None
            return [ClearPlayback()] if had else []
        if isinstance(event, CoreOutput) and isinstance(event.event, Handoff):
            self._handoff = (event.event, event.turn_id, now_ms + self.handoff_grace_ms)
            return []
        if isinstance(event, SessionEnded):
            return [Hangup(event.reason)]
        if isinstance(event, ErrorEvent) and event.fatal:
            return [Hangup(event.code)]
        return []

    def on_mark(self, name: str) -> list[PhoneCommand]:
        turn = mark_turn(name)
        if turn is None or turn in self._cleared:
            return []
        self._heard.append(turn)
        return [MarkPlayed(turn)]

    def tick(self, now_ms: int) -> list[PhoneCommand]:
        out: list[PhoneCommand] = []
        if self.paused:
            self._next_at = None  # paused time is not owed: no burst on resume
        elif self._next_at is None or self._next_at < now_ms - self.frame_ms:
            self._next_at = now_ms  # idle or late: playout restarts now, no catch-up burst
        while self._queue and self._next_at is not None and self._next_at <= now_ms + self.lead_ms:
            turn, frame = self._queue.popleft()
            if frame is None:
                if self.far_end_marks:
                    out.append(SendMark(mark_name(turn)))
                else:  # heard once its last frame has played out at the far end
                    self._pending_marks.append((self._next_at, turn))
                continue
            out.append(PlayFrame(TelephonyFrame(frame, self._next_at)))
            self._next_at += self.frame_ms
        while self._pending_marks and self._pending_marks[0][0] <= now_ms:
            turn = self._pending_marks.popleft()[1]
            self._heard.append(turn)
            out.append(MarkPlayed(turn))
        if self._handoff is not None:
            handoff, turn, deadline = self._handoff
            if turn in self._heard or now_ms >= deadline:  # its reply was heard, or took too long
                self._handoff = None
                out.append(Transfer(handoff.reason, handoff.urgent))
        return out

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    def _add_audio(self, turn: int, audio: bytes) -> None:
        size = self.audio.frame_bytes(self.frame_ms)
        self._partial += audio
        while len(self._partial) >= size:
            self._enqueue(turn, bytes(self._partial[:size]))
            del self._partial[:size]

    def _flush_partial(self, turn: int) -> None:
        if self._partial:
            size = self.audio.frame_bytes(self.frame_ms)
            pad = SILENCE_BYTE[self.audio.encoding] * (size - len(self._partial))
            self._enqueue(turn, bytes(self._partial) + pad)
            self._partial.clear()

    def _enqueue(self, turn: int, frame: bytes) -> None:
        if len(self._queue) >= self.max_queue_frames:
            self._queue.popleft()
            self.dropped_frames += 1
        self._queue.append((turn, frame))


# -- audio adapters --------------------------------------------------------------------------------

def to_pcm16(audio: bytes, encoding: str) -> np.ndarray:
    if encoding == "mulaw":
        return ulaw_decode(audio)
    if encoding == "alaw":
        return alaw_decode(audio)
    if encoding == "pcm16":
        return np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2")
    raise MediaError(f"encoding {encoding!r} is not a phone encoding", code="media-unsupported")


def from_pcm16(pcm: np.ndarray, encoding: str) -> bytes:
    if encoding == "mulaw":
        return ulaw_encode(pcm.astype(np.int16))
    if encoding == "alaw":
        return alaw_encode(pcm.astype(np.int16))
    if encoding == "pcm16":
        return pcm.astype("<i2").tobytes()
    raise MediaError(f"encoding {encoding!r} is not a phone encoding", code="media-unsupported")


def convert(audio: bytes, source: str, target: str) -> bytes:
    """Between the three 8 kHz phone encodings (same rate: no resampling)."""
    return audio if source == target else from_pcm16(to_pcm16(audio, source), target)


def g711_conceal(encoding: str) -> Conceal:
    """Packet-loss concealment for the jitter buffer of a call in this encoding."""
    return fade_conceal(lambda b: to_pcm16(b, encoding), lambda pcm: from_pcm16(pcm, encoding))
