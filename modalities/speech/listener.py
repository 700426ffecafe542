"""Caller audio at 16 kHz -> VAD windows -> endpointing events, keeping the audio of the open turn.

Synchronous and clock-free: media time is the count of samples fed. The VAD call costs tens of
microseconds per 32 ms window (see docs/benchmarks.md), so it runs inline on the caller's task.
"""

from __future__ import annotations

import numpy as np

from modalities.speech.endpointing import (
    EndpointConfig,
    Endpointer,
    EndpointEvent,
    NoiseDiscarded,
    SpeechStarted,
    TurnEnded,
)
from models.base import Float32Audio, VoiceActivityDetector

RATE = 16000
PRE_ROLL_MS = 200  # audio kept before the first voiced window: VAD fires late on soft onsets
PRE_ROLL_SAMPLES = PRE_ROLL_MS * RATE // 1000


class SpeechListener:
    def __init__(self, vad: VoiceActivityDetector, config: EndpointConfig, *, max_turn_s: float = 30.0):
        if vad.sample_rate != RATE:
            raise ValueError("the listener runs at 16 kHz")
        self.vad = vad
        self.endpointer = Endpointer(config)
        self._window = vad.window_samples
        self._pending = np.zeros(0, dtype=np.float32)
        self._media_samples = 0  # samples given to the VAD so far
        # Audio of the current turn (plus pre-roll); bounded by max_turn_s + pre-roll.
        # Preallocated so a window costs one copy, not a reallocation of the whole turn.
        self._buffer = np.zeros(int((max_turn_s + 2.0) * RATE), dtype=np.float32)
        self._length = 0  # samples held in _buffer
        self._buffer_start = 0  # media sample index of _buffer[0]
        self._idle_since = 0  # media sample at which the last turn ended

    @property
    def media_ms(self) -> int:
        return self._media_samples * 1000 // RATE

    def feed(self, audio: Float32Audio) -> list[EndpointEvent]:
        self._pending = np.concatenate([self._pending, audio])
        events: list[EndpointEvent] = []
        w = self._window
        while len(self._pending) >= w:
            window, self._pending = self._pending[:w], self._pending[w:]
            self._append(window)
            self._media_samples += w
            prob = self.vad.probability(window)
            for event in self.endpointer.window(self.media_ms, w * 1000 // RATE, prob):
                events.append(event)
                if isinstance(event, SpeechStarted):
                    self._trim(event.start_ms * RATE // 1000 - PRE_ROLL_SAMPLES)
                elif isinstance(event, TurnEnded | NoiseDiscarded):
                    self._idle_since = self._media_samples
            # Between turns only a little audio is kept, but not before the ended turn's audio has
            # had a second to be taken by the transcriber.
            if (not self.endpointer.in_turn and self._media_samples - self._idle_since > RATE
                    and self._length > 2 * PRE_ROLL_SAMPLES):
                self._trim(self._media_samples - PRE_ROLL_SAMPLES)
        return events

    def _append(self, window: Float32Audio) -> None:
        n = len(window)
        if self._length + n > len(self._buffer):  # turn longer than the cap: forget its start
            self._trim(self._buffer_start + self._length + n - len(self._buffer))
        self._buffer[self._length:self._length + n] = window
        self._length += n

    def _trim(self, keep_from_sample: int) -> None:
        drop = min(self._length, max(0, keep_from_sample - self._buffer_start))
        if drop:
            self._buffer[: self._length - drop] = self._buffer[drop:self._length]
            self._length -= drop
            self._buffer_start += drop

    def audio(self, start_ms: int, end_ms: int) -> Float32Audio:
        """A copy of the audio between two media times; the part no longer (or not yet) buffered
        is silence, so sample i of the result is always media time start_ms + i / 16."""
        first, last = start_ms * RATE // 1000, max(start_ms, end_ms) * RATE // 1000
        out = np.zeros(last - first, dtype=np.float32)
        a = max(first, self._buffer_start)
        b = min(last, self._buffer_start + self._length)
        if b > a:
            out[a - first:b - first] = self._buffer[a - self._buffer_start:b - self._buffer_start]
        return out

    def reset(self) -> None:
        self.vad.reset()
