"""TurnTranscriber: what each pause pass sends to the ASR, with a recording stand-in for the engine."""

from __future__ import annotations

import numpy as np
import pytest

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
    # only the audio after the pause (this stand-in's samples are never quiet, so the piece starts
    # at the pause: where a quiet pause is skipped is test_the_next_piece_skips_a_quiet_pause...)
    assert asr.calls[1][0] == 3500
    assert asr.calls[1][2] == "[0-3500]"  # prompted with the committed words
    assert text == "[0-3500] [3500-6000]"


async def test_the_next_piece_never_starts_before_the_committed_end() -> None:
    asr = RecordingAsr(0)
    tx = TurnTranscriber(asr, timeline(0), language="en", start_ms=300, tail_pad_ms=0, pre_roll_ms=300)
    await tx.transcribe_until(3500)
    tx.resumed(3500, 3720)  # a real pause (220 ms), shorter than this pre-roll
    await tx.transcribe_until(6000)
    assert asr.calls[1][0] == 3500  # not 3420: that audio is the committed piece's


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


class HearingAsr:
    """Decodes in whatever language it is told, and reports what the audio sounds like."""

    def __init__(self, sounds_like: str, probability: float, *, writes: dict[str, str] | None = None) -> None:
        self.heard = (sounds_like, probability)
        self.languages: list[str | None] = []
        self.writes = writes or {}  # language -> what the decode made to write it gives

    async def __call__(self, audio: np.ndarray, language: str | None, prompt: str | None) -> Transcript:
        self.languages.append(language)
        if language is None:
            return Transcript("words", self.heard[0], self.heard[1], len(audio) / 16000)
        text = self.writes.get(language, f"as {language}")
        return Transcript(text, language, 1.0, len(audio) / 16000, heard=self.heard)


async def test_a_guessed_language_gives_way_to_another_heard_surely() -> None:
    asr = HearingAsr("en", 0.9)
    tx = TurnTranscriber(asr, timeline(0), language="zh", start_ms=200, tail_pad_ms=0, switch_above=0.8)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert asr.languages == ["zh", "en"]  # decoded again in the language it sounds like
    assert (result.text, result.language, result.language_probability) == ("as en", "en", 0.9)


async def test_a_guessed_language_stays_when_the_other_is_unsure() -> None:
    asr = HearingAsr("la", 0.35)  # espeak's code-switched Mandarin: "Latin", 35%
    tx = TurnTranscriber(asr, timeline(0), language="zh", start_ms=200, tail_pad_ms=0, switch_above=0.8)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert asr.languages == ["zh"]
    assert result.language == "zh"


async def test_a_lean_to_english_switches_when_the_mandarin_decode_wrote_an_english_sentence() -> None:
    # Measured: espeak's "Hello, how long do I have to return the item?" in a Mandarin session,
    # heard as English at 0.79 (under switch_above) and written in Latin script by the zh decode.
    as_zh = "Hello  How long do I have to return the item?"
    as_en = "Hello, how long do I have to return the item?"
    asr = HearingAsr("en", 0.79, writes={"zh": as_zh, "en": as_en})
    tx = TurnTranscriber(asr, timeline(0), language="zh", start_ms=200, tail_pad_ms=0, switch_above=0.8)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert asr.languages == ["zh", "en"]
    assert (result.text, result.language) == (as_en, "en")


@pytest.mark.parametrize(("probability", "written"), [
    (0.79, "我想问一下 my order number is"),  # Chinese characters written: the decode is Mandarin
    (0.79, "iPhone PayPal"),  # two Latin words are normal inside Mandarin
    (0.45, "Hello how long do I have"),  # a lean under one half is not a lean
])
async def test_a_lean_alone_or_a_mandarin_decode_keeps_the_guessed_language(probability: float,
                                                                          written: str) -> None:
    asr = HearingAsr("en", probability, writes={"zh": written})
    tx = TurnTranscriber(asr, timeline(0), language="zh", start_ms=200, tail_pad_ms=0, switch_above=0.8)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert asr.languages == ["zh"] and (result.text, result.language) == (written, "zh")


async def test_a_language_the_caller_chose_never_switches() -> None:
    asr = HearingAsr("en", 0.99)
    tx = TurnTranscriber(asr, timeline(0), language="zh", start_ms=200, tail_pad_ms=0)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert asr.languages == ["zh"] and result.language == "zh"


async def test_a_detected_language_carries_its_probability() -> None:
    asr = HearingAsr("zh", 0.97)
    tx = TurnTranscriber(asr, timeline(0), language=None, start_ms=200, tail_pad_ms=0)
    result = await tx.finish(2000, loop_time=lambda: 0.0)
    assert (result.language, result.language_probability) == ("zh", 0.97)


def _levels(spans: list[tuple[int, int, float]]):
    """Audio at 16 kHz from (start_ms, end_ms, amplitude) spans of white noise, quiet elsewhere."""
    rng = np.random.default_rng(7)
    total = max(end for _, end, _ in spans) + 1000
    x = rng.normal(0, 0.005, total * RATE).astype(np.float32)  # the line's own noise
    for start, end, level in spans:
        x[start * RATE:end * RATE] = rng.normal(0, level, (end - start) * RATE)

    def audio(start_ms: int, end_ms: int) -> np.ndarray:
        return x[max(0, start_ms) * RATE:end_ms * RATE]

    return audio


@pytest.mark.parametrize(("soft", "expected_start"), [(0.0, 4000), (0.06, 3500)],
                         ids=["quiet-pause", "soft-word-in-the-pause"])
async def test_the_next_piece_skips_a_quiet_pause_but_not_a_soft_word(soft: float,
                                                                     expected_start: int) -> None:
    # Speech to 3500, the VAD hears it again at 4200; in the second case a soft word (a fifth of
    # the speech's level, under the VAD's threshold) fills 3600-3900: the piece keeps it.
    spans = [(200, 3500, 0.3), (4200, 6000, 0.3)] + ([(3600, 3900, soft)] if soft else [])
    starts: list[int] = []

    async def asr(audio: np.ndarray, language: str | None, prompt: str | None) -> Transcript:
        starts.append(len(audio))
        return Transcript("words", "en", 1.0, len(audio) / 16000)

    tx = TurnTranscriber(asr, _levels(spans), language="en", start_ms=200, tail_pad_ms=0)
    await tx.transcribe_until(3500)
    tx.resumed(3500, 4200)
    await tx.transcribe_until(6000)
    assert 6000 - starts[1] // RATE == expected_start
