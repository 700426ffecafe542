"""Asterisk AudioSocket: TCP stream of frames `kind(1) | length(2, big-endian) | payload`.

Sans-I/O: `AudioSocketParser.feed(data)` returns the complete frames as typed events and keeps
the partial tail; `eof()` reports a truncated frame. The 2-byte length is peer-given, so a
frame longer than `max_payload` is refused before its payload is buffered.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from gateway.errors import LimitExceeded, ProtocolError

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10  # signed 16-bit little-endian PCM, 8 kHz mono
KIND_ERROR = 0xFF
HEADER = struct.Struct(">BH")
MAX_PAYLOAD = 2048  # Asterisk sends 320-byte (20 ms) audio frames
DTMF_DIGITS = frozenset(b"0123456789*#ABCD")


@dataclass(frozen=True)
class AsHangup:
    pass


@dataclass(frozen=True)
class AsCallId:
    call_id: str


@dataclass(frozen=True)
class AsDtmf:
    digit: str


@dataclass(frozen=True)
class AsAudio:
    pcm: bytes  # s16le 8 kHz


@dataclass(frozen=True)
class AsError:
    code: int


@dataclass(frozen=True)
class AsInvalid:
    """A well-framed but malformed frame: skipped, the stream stays usable."""

    error: ProtocolError


AudioSocketEvent = AsHangup | AsCallId | AsDtmf | AsAudio | AsError | AsInvalid


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise LimitExceeded("audiosocket payload over 65535 bytes", code="audiosocket-frame-too-large")
    return HEADER.pack(kind, len(payload)) + payload


def audio_frame(pcm: bytes) -> bytes:
    return encode_frame(KIND_SLIN, pcm)


def hangup_frame() -> bytes:
    return encode_frame(KIND_HANGUP)


class AudioSocketParser:
    """One direction of an AudioSocket connection (frames from Asterisk, or to it in tests)."""

    def __init__(self, *, max_payload: int = MAX_PAYLOAD, need_call_id: bool = True) -> None:
        self.max_payload = max_payload
        self.need_call_id = need_call_id  # Asterisk's side sends it first; ours never does
        self._buf = bytearray()
        self.call_id: str | None = None
        self.broken = False  # after a framing error the stream cannot be re-synchronised

    def feed(self, data: bytes) -> list[AudioSocketEvent]:
        if self.broken:
            raise ProtocolError("audiosocket stream already desynchronised", code="protocol-bad-frame")
        self._buf += data
        events: list[AudioSocketEvent] = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if length > self.max_payload:
                self.broken = True
                raise LimitExceeded(f"audiosocket frame of {length} bytes over {self.max_payload}",
                                    code="audiosocket-frame-too-large")
            end = HEADER.size + length
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[HEADER.size:end])
            del self._buf[:end]
            try:
                events.append(self._event(kind, payload))
            except ProtocolError as exc:
                events.append(AsInvalid(exc))
        return events

    def eof(self) -> None:
        """The peer closed the socket: a partial frame left over is an error."""
        if self._buf and not self.broken:
            left = len(self._buf)
            self._buf.clear()
            raise ProtocolError(f"audiosocket stream ended inside a frame ({left} bytes left)",
                                code="audiosocket-truncated")

    def _event(self, kind: int, payload: bytes) -> AudioSocketEvent:
        if kind == KIND_SLIN:
            if self.call_id is None and self.need_call_id:
                raise ProtocolError("audiosocket audio before the call id", code="audiosocket-no-uuid")
            if len(payload) % 2:
                raise ProtocolError("audiosocket audio of odd length", code="protocol-bad-frame")
            return AsAudio(payload)
        if kind == KIND_UUID:
            if len(payload) != 16:
                raise ProtocolError("audiosocket call id is not 16 bytes", code="protocol-bad-frame")
            self.call_id = str(uuid.UUID(bytes=payload))
            return AsCallId(self.call_id)
        if kind == KIND_HANGUP:
            return AsHangup()
        if kind == KIND_DTMF:
            if len(payload) != 1 or payload[0] not in DTMF_DIGITS:
                raise ProtocolError("audiosocket dtmf is not one digit", code="protocol-bad-frame")
            return AsDtmf(chr(payload[0]))
        if kind == KIND_ERROR:
            return AsError(payload[0] if payload else 0)
        raise ProtocolError(f"audiosocket frame kind 0x{kind:02x} unknown", code="audiosocket-unknown-kind")
