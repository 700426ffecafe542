"""The speech worker: caller audio -> VAD windows for the machine, and each speech turn's
transcription (one TurnTranscriber per turn, ASR on the shared engine off the event loop).

Depends on the engines, the metrics and a trace per turn; never on the session.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable

import numpy as np

from gateway.engines import Engines
from gateway.events import AudioFormat
from gateway.media import CallerAudio
from gateway.metrics import Metrics
from gateway.session.messages import VoiceWindow
from gateway.tracing import TurnTrace
from modalities.speech.transcriber import TurnText, TurnTranscriber
from models.base import Float32Audio, Transcript, VoiceActivityDetector

RATE = 16000
JUDGE_PRE_ROLL_MS = 200  # audio the end-of-turn model hears before the first voiced window
SWITCH_ABOVE = 0.8  # a guessed session language gives way to another heard at least this surely


class CallerEars:
    """Decodes caller audio, runs the VAD inline (tens of microseconds per 32 ms window) and keeps
    the last `keep_s` seconds in a ring, so a turn's audio can be taken by media time."""

    def __init__(self, vad: VoiceActivityDetector, audio: AudioFormat, *, keep_s: float) -> None:
        if vad.sample_rate != RATE:
            raise ValueError("the VAD runs at 16 kHz")
        self.vad = vad
        self._decoder = CallerAudio(audio)
        self._window = vad.window_samples
        self._pending = np.zeros(0, dtype=np.float32)
        self._ring = np.zeros(int(keep_s * RATE), dtype=np.float32)
        self._heard = 0  # samples given to the VAD so far: media time

    @property
    def media_ms(self) -> int:
        return self._heard * 1000 // RATE

    def hear(self, payload: bytes) -> list[VoiceWindow]:
        self._pending = np.concatenate([self._pending, self._decoder.decode(payload)])
        w, windows = self._window, []
        while len(self._pending) >= w:
            window, self._pending = self._pending[:w], self._pending[w:]
            at = self._heard % len(self._ring)
            first = min(w, len(self._ring) - at)
            self._ring[at:at + first] = window[:first]
            self._ring[:w - first] = window[first:]
            self._heard += w
            windows.append(VoiceWindow(self.media_ms, w * 1000 // RATE, self.vad.probability(window)))
        return windows

    def audio(self, start_ms: int, end_ms: int) -> Float32Audio:
        """A copy of the audio between two media times; what is no longer (or not yet) kept is
        silence, so sample i of the result is always media time start_ms + i / 16."""
        first, last = start_ms * RATE // 1000, max(start_ms, end_ms) * RATE // 1000
        out = np.zeros(last - first, dtype=np.float32)
        size = len(self._ring)
        for sample in range(max(first, self._heard - size, 0), min(last, self._heard), size):
            stop = min(last, self._heard, sample + size)
            idx = np.arange(sample, stop) % size
            out[sample - first:stop - first] = self._ring[idx]
        return out

    def close(self) -> None:
        self.vad.close()


class SpeechTurns:
    """The transcription of each open speech turn, keyed by the machine's turn id."""

    def __init__(self, engines: Engines, metrics: Metrics, session_language: str) -> None:
        self._engines = engines
        self._metrics = metrics
        self._model = engines.asr_model_for(session_language)
        self._open: dict[int, TurnTranscriber] = {}

    def open(self, turn_id: int, ears: CallerEars, start_ms: int, language: str | None,
             trace: TurnTrace, *, guessed: bool = False) -> None:
        engines, metrics = self._engines, self._metrics
        transcriber: TurnTranscriber | None = None  # set below, before any pass runs

        async def asr(audio: Float32Audio, language: str | None, prompt: str | None) -> Transcript:
            model = self._model_for(language, guessed=guessed,
                                    may_switch=transcriber is None or transcriber.may_switch)
            started = time.perf_counter()
            with trace.stage("asr", {"gateway.backend": model, "asr.audio_ms": len(audio) // 16}) as span:
                result = await engines.transcribe(model, audio, language, prompt)
                span.set_attribute("turn.language", result.language or "")
            metrics.stage.labels("asr").observe(time.perf_counter() - started)
            return result

        transcriber = TurnTranscriber(asr, ears.audio, language=language, start_ms=start_ms,
                                      switch_above=SWITCH_ABOVE if guessed else None)
        self._open[turn_id] = transcriber

    def _model_for(self, language: str | None, *, guessed: bool, may_switch: bool) -> str:
        """The session's engine; but in a session whose language was detected (guessed), once the
        multilingual engine (which notices a caller who switched language) has heard the turn in
        that language surely (or a piece is committed), the rest goes to the engine made for it:
        for English, tiny.en, about a third of base's compute on a phone line's `language = auto`."""
        if not guessed or may_switch or language is None:
            return self._model
        return self._engines.asr_model_for(language)

    def judge(self, turn_id: int, ears: CallerEars, heard_ms: int) -> Awaitable[float | None] | None:
        """The end-of-turn model's verdict on the turn's audio up to `heard_ms` (taken now, at
        most the model's 8 s); None when the turn is over or no model is configured."""
        name = self._engines.turn_model_name()
        if turn_id not in self._open or name is None:
            return None
        start = max(self._open[turn_id].start_ms - JUDGE_PRE_ROLL_MS, heard_ms - 8000)
        audio = ears.audio(start, heard_ms)
        engines, metrics = self._engines, self._metrics

        async def run() -> float | None:
            started = time.perf_counter()
            p = await engines.end_of_turn(name, audio)
            metrics.stage.labels("turn").observe(time.perf_counter() - started)
            return p
        return run()

    def resumed(self, turn_id: int, pause_end_ms: int, at_ms: int) -> None:
        if turn_id in self._open:
            self._open[turn_id].resumed(pause_end_ms, at_ms)

    def transcribe(self, turn_id: int, until_ms: int) -> Awaitable[str] | None:
        """Takes the audio now (the ring forgets it); the ASR runs when the result is awaited."""
        tx = self._open.get(turn_id)
        return None if tx is None else tx.transcribe_until(until_ms)

    def finish(self, turn_id: int, until_ms: int) -> Awaitable[TurnText] | None:
        tx = self._open.pop(turn_id, None)
        return None if tx is None else tx.finish(until_ms, loop_time=time.perf_counter)

    def language(self, turn_id: int) -> str:
        tx = self._open.get(turn_id)
        return (tx.language or "") if tx is not None else ""

    def close(self, turn_id: int) -> None:
        self._open.pop(turn_id, None)
