"""Where a recording's caller is speaking, for load testers.

The load tester needs one end-of-speech definition that does not depend on the gateway under test,
so the same recording is judged the same way against any server: it is computed once, offline,
over the whole recording, before any server hears it. `voiced_span` reads a voice activity
detector's scores (the load tester runs Silero over the file); `speech_span` is the fallback by
energy: a frame is voiced when its RMS is within `range_db` of the recording's loudest frame and
above an absolute floor. Pure functions over arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02


@dataclass(frozen=True)
class SpeechSpan:
    """First and last voiced moment of a recording, in seconds from its start."""

    start_s: float
    end_s: float


def frame_rms(audio: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS of each whole frame of float audio (a partial last frame is left out)."""
    size = max(1, int(rate * frame_s))
    count = len(audio) // size
    frames = np.asarray(audio[: count * size], np.float64).reshape(count, size)
    return np.sqrt(np.mean(frames * frames, axis=1))


def frame_levels_db(audio: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level in dBFS of each whole frame of float32 audio in [-1, 1]."""
    rms = frame_rms(audio, rate, frame_s)
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-9)), np.float32)


def speech_span(audio: np.ndarray, rate: int, *, range_db: float = 35.0,
                floor_db: float = -55.0) -> SpeechSpan | None:
    """The span from the first to the last voiced frame, or None for a silent recording."""
    levels = frame_levels_db(audio, rate)
    if levels.size == 0:
        return None
    threshold = max(floor_db, float(levels.max()) - range_db)
    return _span(levels > threshold, FRAME_S)


def voiced_span(probabilities: np.ndarray, window_s: float, *, threshold: float = 0.5) -> SpeechSpan | None:
    """First and last window a voice activity detector scored at least `threshold`, run offline
    over the whole recording. Energy alone counts a noisy tail as speech (jfk.wav ends in 0.5 s
    of crowd noise that the energy rule calls voiced), which moves the end of speech past the
    words and turns a prompt reply into one "over the caller"."""
    return _span(np.asarray(probabilities) >= threshold, window_s)


def _span(voiced_mask: np.ndarray, step_s: float) -> SpeechSpan | None:
    """From the start of the first voiced step to the end of the last; None when none is voiced."""
    voiced = np.flatnonzero(voiced_mask)
    if voiced.size == 0:
        return None
    return SpeechSpan(float(voiced[0]) * step_s, float(voiced[-1] + 1) * step_s)


@dataclass(frozen=True)
class TurnVerdict:
    """How the gateway answered one recording, judged from the caller's side (wall seconds)."""

    latency_s: float | None  # caller's end of speech -> first reply audio after it; None: unanswered
    talked_over: int  # reply audio bursts that started while the caller was still speaking or pausing
    audio_over_speech: bool = False  # reply audio arrived while the caller spoke (any reply's)


def judge_turn(speech_start: float, speech_end: float, bursts: list[float],
               deadline: float, burst_ends: list[float] | None = None) -> TurnVerdict:
    """`bursts`: wall times at which reply audio started arriving (after a gap in the audio);
    `burst_ends`: when each burst's last audio arrived (same order).

    A burst strictly inside (speech_start, speech_end) started while the caller was mid-utterance:
    in a pause or over their speech. A burst that began earlier and was still arriving after
    speech_start (the rest of a reply the caller took for finished) is not a reply started over
    the caller, but it is audio over their speech: on a phone wire, what a barge-in stops. The
    latency is to the first burst at or after speech_end and before `deadline`."""
    talked_over = sum(1 for t in bursts if speech_start < t < speech_end)
    over = any(start < speech_end and end > speech_start
               for start, end in zip(bursts, burst_ends or [], strict=False))
    after = [t for t in bursts if speech_end <= t <= deadline]
    return TurnVerdict(min(after) - speech_end if after else None, talked_over, over)
