"""Phone test harness: a scripted SessionPort (no models), a pcap reader, the realdata folder."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from gateway.core.api import Handoff
from gateway.errors import LimitExceeded
from gateway.events import (
    AudioClear,
    AudioFormat,
    CoreOutput,
    ReplyAudio,
    ReplyAudioEnd,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TranscriptFinal,
)
from gateway.inputs import AudioIn, BargeInRequest, DtmfIn, Played, SessionInput
from gateway.ports import SessionRequest
from gateway.telephony import from_pcm16, to_pcm16

REALDATA = Path(os.environ.get("GATEWAY_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared"
                               / "realdata"))


def realdata(*parts: str) -> Path:
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"realdata file {path} absent (set GATEWAY_REALDATA)")
    return path


def read_pcap_udp(path: Path) -> Iterator[tuple[float, bytes]]:
    """(time, UDP payload) of each IPv4/UDP packet in a classic pcap (Ethernet, raw IP or Linux SLL)."""
    data = path.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16: offset + 16 + incl]
        offset += 16 + incl
        ip = {1: 14, 101: 0, 113: 16}.get(linktype)
        if ip is None:
            raise ValueError(f"pcap link type {linktype} not supported")
        if linktype == 1 and frame[12:14] == b"\x81\x00":  # VLAN tag
            ip += 4
        if len(frame) < ip + 28 or frame[ip] >> 4 != 4 or frame[ip + 9] != 17:
            continue
        udp = ip + (frame[ip] & 0x0F) * 4
        length = struct.unpack_from("!H", frame, udp + 4)[0]
        yield sec + frac / (1e9 if nano else 1e6), frame[udp + 8: udp + length]


def tone(freq: float, ms: int, fmt: AudioFormat, amplitude: float = 8000.0) -> bytes:
    t = np.arange(fmt.sample_rate * ms // 1000) / fmt.sample_rate
    pcm = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return from_pcm16(pcm, fmt.encoding)


@dataclass
class ScriptedSession:
    """A SessionPort with a fixed script instead of models:
    DTMF `1` -> reply with the caller audio heard so far (echo, capped at `echo_ms`);
    DTMF `2` -> reply with a 2 s 440 Hz tone; DTMF `0` -> hand off to a person (plus a short tone);
    push of `barge_in()` -> AudioClear of the reply playing."""

    session_id: str
    request: SessionRequest
    echo_ms: int = 3000
    reply_after_ms: int | None = None  # answer (a 1 s tone) once this much caller audio arrived
    audio: bytearray = field(default_factory=bytearray)
    dtmf: list[str] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)
    closed: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _events: asyncio.Queue[SessionEvent] = field(default_factory=lambda: asyncio.Queue(1000))
    _turn: int = 0

    def __post_init__(self) -> None:
        self._events.put_nowait(SessionStarted(self.session_id, self.request.audio, "en"))

    def push(self, item: SessionInput) -> None:
        if isinstance(item, AudioIn):
            self.push_audio(item.payload)
        elif isinstance(item, DtmfIn):
            self.push_dtmf(item.digit)
        elif isinstance(item, BargeInRequest):
            self.barge_in()
        elif isinstance(item, Played):
            self.mark_played(item.turn_id)

    def push_audio(self, payload: bytes) -> None:
        before = len(self.audio)
        self.audio += payload
        if self.reply_after_ms is not None:
            at = self.request.audio.frame_bytes(self.reply_after_ms)
            if before < at <= len(self.audio):
                self._turn += 1
                self.reply(tone(440, 1000, self.request.audio))

    def push_text(self, text: str) -> None:
        pass

    def push_dtmf(self, digit: str) -> None:
        self.dtmf.append(digit)
        self._turn += 1
        self._events.put_nowait(TranscriptFinal(self._turn, digit, "en", "dtmf"))
        fmt = self.request.audio
        if digit == "1":
            self.reply(bytes(self.audio[: fmt.frame_bytes(self.echo_ms)]))
        elif digit == "2":
            self.reply(tone(440, 2000, fmt))
        elif digit == "0":
            self._events.put_nowait(CoreOutput(self._turn, Handoff("dtmf", False)))
            self.reply(tone(660, 400, fmt))

    def reply(self, audio: bytes, chunk: int = 333) -> None:
        for seq, i in enumerate(range(0, len(audio), chunk)):  # odd chunks: the bridge must reframe
            self._events.put_nowait(ReplyAudio(self._turn, audio[i:i + chunk], seq))
        self._events.put_nowait(ReplyAudioEnd(self._turn))

    def push_image(self, data: bytes) -> None:
        pass

    def push_video_frame(self, data: bytes, media_time_ms: int) -> None:
        pass

    def barge_in(self) -> None:
        self._events.put_nowait(AudioClear(self._turn, 0))

    def emit_nowait(self, event: SessionEvent) -> None:  # SessionPort: a transport-side event
        self._events.put_nowait(event)

    def mark_played(self, turn_id: int) -> None:
        self.marks.append(turn_id)

    async def events(self) -> AsyncIterator[SessionEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, SessionEnded):
                return

    async def close(self, reason: str = "hangup") -> None:
        if self.closed is None:
            self.closed = reason
            self.ended.set()
            self._events.put_nowait(SessionEnded(self.session_id, reason))

    def pcm(self) -> np.ndarray:
        return to_pcm16(bytes(self.audio), self.request.audio.encoding)


@dataclass
class ScriptedFactory:
    capacity: int = 10
    reply_after_ms: int | None = None
    sessions: list[ScriptedSession] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self, request: SessionRequest) -> ScriptedSession:
        if sum(s.closed is None for s in self.sessions) >= self.capacity:
            raise LimitExceeded("all slots in use", code="busy")
        session = ScriptedSession(f"s{len(self.sessions)}", request, reply_after_ms=self.reply_after_ms)
        self.sessions.append(session)
        self.opened.set()
        return session


@pytest.fixture
def factory() -> ScriptedFactory:
    return ScriptedFactory()
