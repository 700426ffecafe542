"""Conversions between a session's audio format and the engines' formats.

Caller audio: session format -> float32 at 16 kHz (one streaming resampling step).
Reply audio: synthesiser PCM16 at its own rate -> session format in 20 ms frames (one step).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gateway.events import AudioFormat
from modalities.audio import codecs
from modalities.audio.pcm import float32_to_int16
from modalities.audio.resample import Resampler, resample
from models.base import Float32Audio, Int16Audio

ASR_RATE = 16000
FRAME_MS = 20


class CallerAudio:
    """Decodes caller frames of any size (a split sample is kept for the next frame)."""

    def __init__(self, audio: AudioFormat, out_rate: int = ASR_RATE) -> None:
        self.format = audio
        self._carry = b""
        self._resampler = None if audio.sample_rate == out_rate else Resampler(audio.sample_rate, out_rate)

    def decode(self, payload: bytes) -> Float32Audio:
        if self.format.encoding == "pcm16":
            data = self._carry + payload
            usable = len(data) - len(data) % 2
            self._carry = data[usable:]
            pcm = np.frombuffer(data[:usable], dtype="<i2")
        elif self.format.encoding == "mulaw":
            pcm = codecs.ulaw_decode(payload)
        else:
            pcm = codecs.alaw_decode(payload)
        audio = pcm.astype(np.float32) / 32768.0
        if self._resampler is not None:
            audio = self._resampler.process(audio)
        return audio


class ReplyEncoder:
    """Encodes reply speech into whole 20 ms frames of the session's format."""

    def __init__(self, audio: AudioFormat) -> None:
        self.format = audio
        self._frame_samples = audio.sample_rate * FRAME_MS // 1000
        self._pending = np.zeros(0, dtype=np.int16)

    def encode(self, pcm: Int16Audio, rate: int) -> Iterator[bytes]:
        if rate != self.format.sample_rate and len(pcm):
            # One high-quality step per piece: pieces are whole clauses, so no seams inside words.
            pcm = float32_to_int16(resample(pcm.astype(np.float32) / 32768.0, rate, self.format.sample_rate))
        self._pending = np.concatenate([self._pending, pcm])
        n = self._frame_samples
        whole = len(self._pending) // n * n
        for start in range(0, whole, n):
            yield self._bytes(self._pending[start:start + n])
        self._pending = self._pending[whole:]

    def flush(self) -> Iterator[bytes]:
        """The last partial frame, padded with silence."""
        if len(self._pending):
            frame = np.zeros(self._frame_samples, dtype=np.int16)
            frame[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, dtype=np.int16)
            yield self._bytes(frame)

    def _bytes(self, frame: Int16Audio) -> bytes:
        if self.format.encoding == "pcm16":
            return frame.astype("<i2").tobytes()
        if self.format.encoding == "mulaw":
            return codecs.ulaw_encode(frame)
        return codecs.alaw_encode(frame)

