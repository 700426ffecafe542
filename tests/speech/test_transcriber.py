"""TurnTranscriber: what each pause pass sends to the ASR, with a recording stand-in for the engine."""

from __future__ import annotations

import numpy as np

from modalities.speech.transcriber import TurnTranscriber
from models.base import Transcript

RATE = 16


class RecordingAsr:
    """Answers each call with the media span it was given; remembers (start_ms, end_ms, prompt)."""

    def __init__(self, origin_ms: int) -> None:
        self.origin_ms = origin_ms
        self.calls: list[tuple[int, int, str | None]] = []

    async def __call__(self, audio: np.ndarray, language: str | None, prompt: str | None) -> Transcript:
        end_ms = self.origin_ms + int(np.max(audio)) + 1  # the audio carries its own media time
        start_ms = end_ms - len(audio) // RATE
        self.calls.append((start_ms, end_ms, prompt))
        return Transcript(f"[{start_ms}-{end_ms}]", "en", 1.0, len(audio) / 16000)


def timeline(origin_ms: int):
    """Audio whose samples hold their own media time (ms since origin): a slice says where it is from."""

    def audio(start_ms: int, end_ms: int) -> np.ndarray:
        ms = np.arange((start_ms - origin_ms) * RATE, (end_ms - origin_ms) * RATE) // RATE
        return ms.astype(np.float32)

    return audio


def make(origin_ms: int = 0) -> tuple[TurnTranscriber, RecordingAsr]:
    asr = RecordingAsr(origin_ms)
    tx = TurnTranscriber(asr, timeline(origin_ms), language="en", start_ms=origin_ms + 200, tail_pad_ms=0)
    return tx, asr


async def test_a_long_piece_before_a_real_pause_is_committed() -> None:
    tx, asr = make()
    await tx.transcribe_until(3500)  # 3.5 s since the turn began: long enough to commit
    tx.resumed(3500, 4200)  # the caller went on 700 ms later: a real pause
    text = await tx.transcribe_until(6000)
    assert asr.calls[1][0] == 3500  # only the audio after the pause is transcribed again
    assert asr.calls[1][2] == "[0-3500]"  # prompted with the committed words
    assert text == "[0-3500] [3500-6000]"


async def test_a_piece_cut_inside_a_word_is_not_committed() -> None:
    tx, asr = make()
    await tx.transcribe_until(3456)
    tx.resumed(3456, 3616)  # 160 ms: a gap inside a word, not a pause (jfk.wav, "as-k")
    text = await tx.transcribe_until(6000)
    assert asr.calls[1][:2] == (0, 6000)  # the whole turn again, the word in one piece
    assert asr.calls[1][2] is None
    assert text == "[0-6000]"


async def test_short_pieces_stay_speculative_and_finish_reuses_the_last_pass() -> None:
    tx, asr = make()
    await tx.transcribe_until(1500)
    tx.resumed(1500, 2000)
    await tx.transcribe_until(2600)
    assert [c[:2] for c in asr.calls] == [(0, 1500), (0, 2600)]  # under 3 s: never committed
    turn = await tx.finish(2600, loop_time=lambda: 0.0)
    assert len(asr.calls) == 2 and turn.text == "[0-2600]"  # the pause pass already covered it
