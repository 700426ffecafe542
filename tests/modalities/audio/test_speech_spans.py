"""The load tester's end-of-speech definition and its verdict on each turn."""

from __future__ import annotations

import numpy as np

from modalities.audio.speech_spans import judge_turn, speech_span, voiced_span

RATE = 16000


def _tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _quiet(seconds: float) -> np.ndarray:
    return np.full(int(seconds * RATE), 1e-4, np.float32)


def test_the_span_runs_from_the_first_to_the_last_voiced_frame_across_a_pause() -> None:
    audio = np.concatenate([_quiet(0.5), _tone(1.0), _quiet(1.2), _tone(0.6, 0.05), _quiet(0.7)])
    span = speech_span(audio, RATE)
    assert span is not None
    assert abs(span.start_s - 0.5) <= 0.02
    assert abs(span.end_s - 3.3) <= 0.02  # the quieter second phrase still counts as speech


def test_a_silent_recording_has_no_span() -> None:
    assert speech_span(_quiet(2.0), RATE) is None
    assert speech_span(np.zeros(0, np.float32), RATE) is None


def test_a_reply_in_the_callers_pause_is_talking_over_and_latency_counts_from_the_end() -> None:
    verdict = judge_turn(10.0, 14.0, bursts=[12.0, 14.6, 15.5], deadline=30.0)
    assert verdict.talked_over == 1
    assert verdict.latency_s is not None and abs(verdict.latency_s - 0.6) < 1e-9


def test_no_reply_before_the_deadline_is_unanswered() -> None:
    verdict = judge_turn(10.0, 14.0, bursts=[9.0, 31.0], deadline=30.0)
    assert verdict == type(verdict)(None, 0)


def test_the_voiced_span_runs_from_the_first_to_the_last_window_the_detector_scored_voiced() -> None:
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.1, 0.7, 0.3, 0.2])  # 32 ms windows; a pause inside
    span = voiced_span(scores, 0.032)
    assert span is not None
    assert abs(span.start_s - 0.064) < 1e-9 and abs(span.end_s - 0.192) < 1e-9
    assert voiced_span(np.array([0.1, 0.4]), 0.032) is None  # nothing voiced: no span


def test_the_rest_of_a_reply_arriving_over_the_next_recording_is_audio_over_speech() -> None:
    # A reply's second clause still arriving when the caller began its next recording: not a reply
    # started over the caller, but audio over their speech (what a phone wire's barge-in stops).
    verdict = judge_turn(10.0, 14.0, bursts=[8.0, 14.5], deadline=30.0, burst_ends=[10.4, 15.0])
    assert (verdict.talked_over, verdict.audio_over_speech) == (0, True)
    verdict = judge_turn(10.0, 14.0, bursts=[8.0, 14.5], deadline=30.0, burst_ends=[9.9, 15.0])
    assert verdict.audio_over_speech is False  # it ended before the caller spoke
