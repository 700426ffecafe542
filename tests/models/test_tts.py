from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gateway.errors import LimitExceeded, ModelUnavailable
from modalities.audio.resample import resample
from models.tts_espeak import EspeakSynthesizer, _sentences
from models.tts_piper import PiperSynthesizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperSynthesizer]:
    engine = PiperSynthesizer()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def espeak() -> Iterator[EspeakSynthesizer]:
    engine = EspeakSynthesizer()
    yield engine
    engine.close()


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def test_piper_one_chunk_per_sentence(piper: PiperSynthesizer) -> None:
    assert piper.info.sample_rate == 22050 and piper.info.languages == ("en",)
    text = "You can return an item within thirty days. Keep the receipt."
    chunks = list(piper.synthesize(text, language="en"))
    assert len(chunks) == 2
    for chunk in chunks:
        assert chunk.dtype == np.int16 and _rms(chunk) > 500
    seconds = sum(c.size for c in chunks) / piper.info.sample_rate
    assert 2.0 < seconds < 8.0  # about 11 words


def test_piper_refuses_other_languages_and_long_text(piper: PiperSynthesizer) -> None:
    with pytest.raises(ModelUnavailable) as info:
        list(piper.synthesize("你好", language="zh"))
    assert info.value.code == "tts-language-unsupported"
    with pytest.raises(LimitExceeded):
        list(piper.synthesize("word " * 2000, language="en"))


def test_espeak_english_and_chinese(espeak: EspeakSynthesizer) -> None:
    assert espeak.info.sample_rate == 22050
    assert {"zh", "yue", "en", "fr", "de", "ja"} <= set(espeak.info.languages)
    english = list(espeak.synthesize("Hello, how can I help you today?", language="en"))
    chinese = list(espeak.synthesize("您好！退货期限是三十天。", language="zh"))
    assert len(english) == 1 and len(chinese) == 2
    assert 1.0 < english[0].size / 22050 < 4.0
    assert 1.5 < sum(c.size for c in chinese) / 22050 < 8.0
    assert all(_rms(c) > 500 for c in english + chinese)


def _speak(engine: EspeakSynthesizer, lang_text: tuple[str, str]) -> np.ndarray:
    return np.concatenate(list(engine.synthesize(lang_text[1], language=lang_text[0])))


def test_espeak_threads_do_not_mix_their_audio(espeak: EspeakSynthesizer) -> None:
    # espeak varies its output slightly from call to call (about 0.1% in length), so compare
    # lengths: audio leaking between concurrent calls would add whole utterances.
    texts = [("zh", "请保留收据。"), ("en", "Thank you for calling, goodbye."), ("yue", "多謝你嘅來電。")] * 3
    serial = [_speak(espeak, lt) for lt in texts]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(lambda lt: _speak(espeak, lt), texts))
    for a, b in zip(serial, parallel, strict=True):
        assert abs(a.size - b.size) < 0.02 * a.size


def test_espeak_and_piper_coexist_in_one_process(espeak: EspeakSynthesizer, piper: PiperSynthesizer) -> None:
    # piper links its own static espeak-ng: both must keep working side by side.
    before = _speak(espeak, ("en", "Goodbye."))
    assert list(piper.synthesize("Goodbye.", language="en"))
    after = _speak(espeak, ("en", "Goodbye."))
    assert abs(before.size - after.size) < 0.02 * before.size and _rms(after) > 500


def test_espeak_refusals(espeak: EspeakSynthesizer) -> None:
    with pytest.raises(ModelUnavailable) as info:
        list(espeak.synthesize("hello", language="xx"))
    assert info.value.code == "tts-language-unsupported"
    with pytest.raises(LimitExceeded):
        list(espeak.synthesize("字" * 5000, language="zh"))


def test_sentence_split() -> None:
    expected = ["您好！", "退货期限是三十天。", "Keep it.", "Thanks?"]
    assert _sentences("您好！退货期限是三十天。Keep it. Thanks?") == expected
    assert _sentences("  ") == []
    assert _sentences("3.5 kg") == ["3.5 kg"]


def test_espeak_chinese_is_understood_by_base_asr(espeak: EspeakSynthesizer) -> None:
    from models.asr_faster_whisper import FasterWhisperTranscriber

    text = "我想退货，需要多长时间？"
    audio = np.concatenate(list(espeak.synthesize(text, language="zh"))).astype(np.float32) / 32768
    asr = FasterWhisperTranscriber("base")
    try:
        result = asr.transcribe(resample(audio, espeak.info.sample_rate, 16000), language="zh")
    finally:
        asr.close()
    # Robotic audio: base typically hears 8 of these 10 characters, the worst seen was 5.
    assert len(set(result.text) & set("我想退货需要多长时间")) >= 4, result.text
