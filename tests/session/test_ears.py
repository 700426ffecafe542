"""The runner's ear: caller audio to VAD windows, and the audio of a turn taken back by media time
from a ring that keeps the last seconds (what is forgotten comes back as silence)."""

from __future__ import annotations

import numpy as np

from gateway.events import AudioFormat
from gateway.session.speech import CallerEars


class RampVad:
    sample_rate = 16000
    window_samples = 512

    def __init__(self) -> None:
        self.closed = False

    def probability(self, window: np.ndarray) -> float:
        return float(window[0] > 0)

    def reset(self) -> None: ...

    def close(self) -> None:
        self.closed = True


def pcm(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def test_windows_are_in_media_time_and_audio_comes_back_from_the_ring() -> None:
    vad = RampVad()
    ears = CallerEars(vad, AudioFormat("pcm16", 16000), keep_s=0.1)  # a 1600-sample ring
    values = (np.arange(4000) % 1000 + 1).astype(np.int16)  # every sample is known
    windows = ears.hear(pcm(values[:1000])) + ears.hear(pcm(values[1000:]))  # any frame size
    assert [w.end_ms for w in windows] == [32 * (i + 1) for i in range(7)]  # 7 whole windows = 3584
    assert ears.media_ms == 224 and all(w.probability == 1.0 for w in windows)
    got = ears.audio(140, 224)  # the last 1344 samples, across the ring's wrap
    assert np.array_equal(got, values[2240:3584].astype(np.float32) / 32768)
    old = ears.audio(0, 140)  # older than the ring: silence, still one sample per 1/16 ms
    assert len(old) == 2240 and not old[:1984].any()  # the ring keeps samples 1984..3583
    assert np.array_equal(old[1984:], values[1984:2240].astype(np.float32) / 32768)
    assert not ears.audio(224, 300).any()  # not heard yet: silence
    ears.close()
    assert vad.closed


class FakeTurnEngines:
    """Engines as SpeechTurns uses them: no ASR is run here, only the end-of-turn model."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.heard: list[np.ndarray] = []

    def asr_model_for(self, language: str) -> str:
        return "tiny.en"

    def turn_model_name(self) -> str | None:
        return self.model

    async def end_of_turn(self, name: str, audio: np.ndarray) -> float | None:
        self.heard.append(audio)
        return 0.9


def test_the_end_of_turn_model_hears_the_turn_from_just_before_its_first_word_to_now() -> None:
    import asyncio

    from gateway.metrics import Metrics
    from gateway.session.speech import SpeechTurns
    from gateway.tracing import untraced

    ears = CallerEars(RampVad(), AudioFormat("pcm16", 16000), keep_s=12.0)
    values = (np.arange(16000 * 10) % 30000 + 1).astype(np.int16)
    ears.hear(pcm(values))  # 10 s heard
    engines = FakeTurnEngines("smart-turn-v3")
    turns = SpeechTurns(engines, Metrics(), "en")  # type: ignore[arg-type]
    turns.open(1, ears, 1000, "en", untraced())
    assert asyncio.run(turns.judge(1, ears, 3000)) == 0.9  # type: ignore[arg-type]
    assert np.array_equal(engines.heard[0], values[800 * 16:3000 * 16].astype(np.float32) / 32768)
    turns.open(2, ears, 0, "en", untraced())  # a long turn: the model reads at most 8 s
    asyncio.run(turns.judge(2, ears, 10_000))  # type: ignore[arg-type]
    assert len(engines.heard[1]) == 8 * 16000
    turns.close(1)
    assert turns.judge(1, ears, 3100) is None  # the turn is over
    assert SpeechTurns(FakeTurnEngines(None), Metrics(), "en").judge(2, ears, 100) is None  # type: ignore[arg-type]


class FakeAsrEngines(FakeTurnEngines):
    """Records which engine each ASR pass goes to. The multilingual engine ("base") reports what
    each pass sounds like: `sounds_like`, pass by pass (the last one repeats)."""

    def __init__(self, heard: list[tuple[str, float]]) -> None:
        super().__init__(None)
        self.passes: list[tuple[str, str | None]] = []
        self.sounds_like = heard

    def asr_model_for(self, language: str) -> str:
        return "tiny.en" if language == "en" else "base"

    async def transcribe(self, model: str, audio: np.ndarray, language: str | None, prompt: str | None):
        from models.base import Transcript

        heard = None
        if model == "base":
            heard = self.sounds_like[min(sum(m == "base" for m, _ in self.passes), len(self.sounds_like) - 1)]
        self.passes.append((model, language))
        return Transcript("word", language or "en", 1.0, len(audio) / 16000, heard=heard)


def _passes(session_language: str, turn_language: str | None, guessed: bool,
            heard: tuple[tuple[str, float], ...] = (("en", 0.9),)) -> list[tuple[str, str | None]]:
    """Three pause passes and the final one of a 4 s turn, through SpeechTurns."""
    import asyncio

    from gateway.metrics import Metrics
    from gateway.session.speech import SpeechTurns
    from gateway.tracing import untraced

    ears = CallerEars(RampVad(), AudioFormat("pcm16", 16000), keep_s=12.0)
    ears.hear(pcm(np.ones(16000 * 5, np.int16)))
    engines = FakeAsrEngines(list(heard))
    turns = SpeechTurns(engines, Metrics(), session_language)  # type: ignore[arg-type]
    turns.open(1, ears, 0, turn_language, untraced(), guessed=guessed)

    async def run() -> None:
        for until in (1000, 2000, 3000):
            pending = turns.transcribe(1, until)
            assert pending is not None
            await pending
        final = turns.finish(1, 4000)
        assert final is not None
        await final
    asyncio.run(run())
    return engines.passes


def test_a_detected_english_turn_hears_its_first_piece_with_base_the_rest_with_tiny_en() -> None:
    passes = _passes("auto", "en", guessed=True)
    assert passes[0] == ("base", "en")  # the multilingual engine: it would hear a switch
    assert {model for model, _ in passes[1:]} == {"tiny.en"} and len(passes) >= 2


def test_a_turn_stays_on_the_multilingual_engine_until_it_is_heard_surely_in_its_language() -> None:
    # "Hello" alone: English at 0.46 (measured on samples/audio/en_question_returns.wav)
    passes = _passes("auto", "en", guessed=True, heard=(("en", 0.46), ("en", 0.92)))
    assert passes[:2] == [("base", "en"), ("base", "en")]
    assert {model for model, _ in passes[2:]} == {"tiny.en"} and len(passes) >= 3


def test_a_caller_who_switched_language_stays_on_the_multilingual_engine() -> None:
    passes = _passes("auto", "en", guessed=True, heard=(("zh", 0.95),))
    assert passes[:2] == [("base", "en"), ("base", "zh")]  # heard as Mandarin: decoded again in it
    assert all(model == "base" for model, _ in passes)


def test_sessions_without_a_guessed_language_keep_their_engine() -> None:
    assert {m for m, _ in _passes("auto", None, guessed=False)} == {"base"}  # the first turn: detection
    assert {m for m, _ in _passes("en", "en", guessed=False)} == {"tiny.en"}  # chosen by the caller
    assert {m for m, _ in _passes("zh", "zh", guessed=False)} == {"base"}
