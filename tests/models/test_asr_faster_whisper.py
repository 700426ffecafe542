from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway.errors import LimitExceeded, ModelUnavailable
from modalities.audio.files import read_audio
from models.asr_faster_whisper import FasterWhisperTranscriber

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "audio"
pytestmark = pytest.mark.slow

# Characters that exist only in traditional writing (their simplified forms differ).
TRADITIONAL_ONLY = set("貨這說時間長個們還來與為會對過後從裡麼")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def tiny() -> Iterator[FasterWhisperTranscriber]:
    model = FasterWhisperTranscriber("tiny.en")
    yield model
    model.close()


@pytest.fixture(scope="module")
def base() -> Iterator[FasterWhisperTranscriber]:
    model = FasterWhisperTranscriber("base")
    yield model
    model.close()


def test_tiny_english(tiny: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "en_question_returns.wav")
    result = tiny.transcribe(audio)
    assert {"how", "long", "return", "item"} <= _words(result.text)
    assert result.language == "en"
    assert result.audio_seconds == pytest.approx(audio.size / 16000)
    assert result.segments and result.segments[0][0] >= 0.0
    assert tiny.info.languages == ("en",) and tiny.info.sample_rate == 16000


def test_tiny_refuses_other_languages(tiny: FasterWhisperTranscriber) -> None:
    with pytest.raises(ModelUnavailable) as info:
        tiny.transcribe(np.zeros(16000, dtype=np.float32), language="zh")
    assert info.value.code == "asr-language-unsupported"


def test_too_short_and_too_long(tiny: FasterWhisperTranscriber) -> None:
    empty = tiny.transcribe(np.zeros(100, dtype=np.float32))
    assert empty.text == "" and empty.language == "en"
    with pytest.raises(LimitExceeded):
        tiny.transcribe(np.zeros(16000 * 601, dtype=np.float32))


def test_base_english_with_detection(base: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "en_question_shipping.wav")
    result = base.transcribe(audio)
    assert result.language == "en" and result.language_probability > 0.5
    assert {"order", "arrive"} <= _words(result.text)


def test_base_chinese_is_simplified(base: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "zh_question_returns.wav")
    result = base.transcribe(audio, language="zh")
    assert result.language == "zh"
    hanzi = [c for c in result.text if "\u4e00" <= c <= "\u9fff"]
    assert len(hanzi) >= 4
    assert len(set("我想需要多时间") & set(hanzi)) >= 3  # robotic espeak audio: partial recognition
    assert not set(result.text) & TRADITIONAL_ONLY
    assert all(not set(seg[2]) & TRADITIONAL_ONLY for seg in result.segments)


def test_base_detects_chinese(base: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "zh_question_returns.wav")
    language, probability = base.detect_language(audio)
    assert language == "zh" and probability > 0.5


def test_close_makes_further_calls_fail() -> None:
    model = FasterWhisperTranscriber("tiny.en")
    model.close()
    with pytest.raises(ModelUnavailable):
        model.transcribe(np.zeros(16000, dtype=np.float32))


def test_traditional_output_is_converted(base: FasterWhisperTranscriber) -> None:
    assert base._normalise("我想退貨，需要多長時間？", "zh") == "我想退货，需要多长时间？"
    assert base._normalise("Hello 貨", "en") == "Hello 貨"  # only Chinese turns are converted


def test_short_turn_is_decoded_at_its_own_length(tiny: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "en_question_returns.wav")
    before = dict(tiny.counts)
    result = tiny.transcribe(audio)
    assert tiny.counts["own-length"] == before["own-length"] + 1
    assert tiny.counts["padded"] == before["padded"]
    assert {"how", "long", "return", "item"} <= _words(result.text)
    assert result.segments == ((0.0, result.audio_seconds, result.text),)


def test_a_pass_at_the_token_cap_falls_back_to_the_padded_decode(
        tiny: FasterWhisperTranscriber, monkeypatch: pytest.MonkeyPatch) -> None:
    from models import whisper_guards

    # the own-length pass is judged as if it had stopped at its cap (the padded decode's own cap,
    # the same function, is left as it is: a sentence's words fit under it)
    monkeypatch.setattr(whisper_guards, "rejection", lambda tokens, text, cap: "token-cap")
    audio, _ = read_audio(SAMPLES / "en_question_returns.wav")
    before = dict(tiny.counts)
    result = tiny.transcribe(audio)
    assert tiny.counts["token-cap"] == before["token-cap"] + 1
    assert tiny.counts["padded"] == before["padded"] + 1
    assert {"how", "long", "return", "item"} <= _words(result.text)  # the whole sentence, not 3 tokens


def test_silence_gives_no_text_at_its_own_length(tiny: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "silence_2s.wav")
    assert tiny.transcribe(audio).text == ""


def test_base_detects_the_language_on_the_same_encoding(base: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "en_question_shipping.wav")
    before = dict(base.counts)
    result = base.transcribe(audio)  # language=None: detected from the own-length encoder output
    assert result.language == "en" and result.language_probability > 0.5
    assert base.counts["own-length"] == before["own-length"] + 1


def test_with_the_language_given_what_it_sounds_like_is_reported(base: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "zh_question_returns.wav")
    result = base.transcribe(audio, language="en")  # a session that guessed English
    assert result.language == "en"  # decoded as told ...
    assert result.heard is not None and result.heard[0] == "zh" and result.heard[1] > 0.8  # ... but heard
    assert base.transcribe(audio).heard is None  # detected: nothing more to report


def test_what_it_sounds_like_survives_the_padded_fallback_and_a_batch(
        base: FasterWhisperTranscriber, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session that guessed its language can switch only if every decode path reports what the
    audio sounds like: the padded decode a guard falls back to, and a batch of several sessions."""
    from models import whisper_guards

    zh, _ = read_audio(SAMPLES / "zh_question_returns.wav")
    en, _ = read_audio(SAMPLES / "en_question_returns.wav")
    before = dict(base.counts)
    together = base.transcribe_batch([(zh, "en", None), (en, "zh", None)])
    assert base.counts["batched"] - before["batched"] == 2
    heard = [r.heard for r in together if not isinstance(r, Exception)]
    assert [h[0] if h else None for h in heard] == ["zh", "en"]
    monkeypatch.setattr(whisper_guards, "TOKEN_FLOOR", 3)  # every own-length pass over the cap
    monkeypatch.setattr(whisper_guards, "TOKENS_PER_SECOND", 0.0)
    before = dict(base.counts)
    padded = base.transcribe(zh, language="en")
    assert base.counts["padded"] == before["padded"] + 1
    assert padded.heard is not None and padded.heard[0] == "zh" and padded.heard[1] > 0.8


KB = Path(__file__).resolve().parents[2] / "samples" / "kb"


@pytest.fixture(scope="module")
def base_kb() -> Iterator[FasterWhisperTranscriber]:
    from modalities.speech.vocabulary import vocabulary

    model = FasterWhisperTranscriber("base", vocabulary={"zh": vocabulary(KB, "zh")})
    yield model
    model.close()


def test_readme_example_hears_the_key_word(base_kb: FasterWhisperTranscriber) -> None:
    audio, _ = read_audio(SAMPLES / "zh_question_returns.wav")  # the padded decode heard 我想追求
    for language in ("zh", None):  # forced, and detected on the same encoding
        result = base_kb.transcribe(audio, language=language)
        assert result.language == "zh" and result.text.startswith("我想退货")
        assert " " not in result.text  # Chinese words are not separated by spaces


def test_english_word_inside_a_chinese_sentence_is_kept(base_kb: FasterWhisperTranscriber) -> None:
    # espeak-ng's rendering varies from call to call (and with the library's earlier use in the
    # process), so the sentence is a fixed file: "我的iPhone坏了，可以保修吗？"
    audio, _ = read_audio(SAMPLES / "zh_mixed_iphone.wav")
    text = base_kb.transcribe(audio, language="zh").text
    assert "iPhone" in text  # not transliterated or dropped although zh is forced
    assert not set(text) & TRADITIONAL_ONLY


REAL_ZH = {"aishell-BAC009S0724W0121.wav": "广州市房地产中介协会分析",
           "funasr_llamacpp_sample_zh.wav": "我想问我在滨海新区有房"}


@pytest.mark.realdata
def test_a_prompted_piece_that_skipped_speech_is_decoded_again_without_the_prompt(
        tiny: FasterWhisperTranscriber) -> None:
    """jfk.wav's last pause-to-end piece, prompted with the turn's earlier words as a session does:
    tiny.en wrote only "country." (measured on 2026-12-05; 13 of 25 loadtest callers lost the
    phrase that way). The pass is checked and decoded again without the prompt."""
    from gateway.evaluation import realdata_dir

    real = realdata_dir()
    if real is None or not (real / "speech" / "jfk.wav").exists():
        pytest.skip("../shared/realdata/speech/jfk.wav absent (set GATEWAY_REALDATA)")
    audio, rate = read_audio(real / "speech" / "jfk.wav")
    piece = audio[int(7.584 * rate):int(10.584 * rate)]
    before = dict(tiny.counts)
    earlier = "And so my fellow Americans asked not what your country can do for you"
    result = tiny.transcribe(piece, prompt=earlier)
    assert {"ask", "what", "you", "can", "do", "for", "your", "country"} <= _words(result.text)
    assert tiny.counts["skipped-speech"] == before["skipped-speech"] + 1
    together = tiny.transcribe_batch([(piece, "en", earlier), (piece, "en", earlier)])  # two sessions
    heard = [_words(r.text) for r in together if not isinstance(r, Exception)]
    assert heard == [_words(result.text)] * 2


@pytest.mark.realdata
def test_a_loop_the_hotwords_wrote_is_decoded_again_bare_not_padded(
        base_kb: FasterWhisperTranscriber) -> None:
    """AISHELL's first 0.93 s, a pause piece of a Mandarin caller (2026-12-06, 10 callers): with the
    knowledge base's terms as hotwords base wrote "收款账户收款户…" until the cap, and the padded
    decode looped again (3 to 7 s a pass, p95 7 s). Decoded again without prompt or hotwords."""
    from gateway.evaluation import realdata_dir

    real = realdata_dir()
    path = None if real is None else real / "speech" / "aishell-BAC009S0724W0121.wav"
    if path is None or not path.exists():
        pytest.skip("../shared/realdata/speech/aishell-BAC009S0724W0121.wav absent (set GATEWAY_REALDATA)")
    audio, rate = read_audio(path)
    piece = audio[int(0.536 * rate):int(0.536 * rate) + int(0.928 * rate)]
    before = dict(base_kb.counts)
    text = base_kb.transcribe(piece, language="zh").text
    assert base_kb.counts["loop"] == before["loop"] + 1  # the prompted pass still loops
    assert base_kb.counts["bare-retry"] == before["bare-retry"] + 1
    assert base_kb.counts["padded"] == before["padded"]
    assert "收款" not in text and len(text) <= 6, text


def test_the_padded_decode_stops_where_the_words_of_its_audio_would(
        base_kb: FasterWhisperTranscriber, monkeypatch: pytest.MonkeyPatch) -> None:
    from models import whisper_guards

    asked: dict[str, object] = {}
    model = base_kb._loaded()
    real = model.transcribe

    def spy(audio: np.ndarray, **options: object) -> object:
        asked.update(options)
        return real(audio, **options)

    monkeypatch.setattr(model, "transcribe", spy)
    audio, _ = read_audio(SAMPLES / "zh_question_returns.wav")
    base_kb._padded(model, audio, "zh", "我想")
    _, ids = base_kb._prompt(model, "zh", "我想")
    assert asked["max_new_tokens"] == whisper_guards.token_cap(len(audio) / 16000, len(ids) + 2)
    assert isinstance(asked["max_new_tokens"], int) and asked["max_new_tokens"] < model.max_length


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL_ZH))
def test_real_mandarin_character_error_rate(base_kb: FasterWhisperTranscriber, name: str) -> None:
    from gateway.evaluation import char_error_rate, realdata_dir

    real = realdata_dir()
    if real is None or not (real / "speech" / name).exists():
        pytest.skip(f"../shared/realdata/speech/{name} absent (set GATEWAY_REALDATA)")
    audio, _ = read_audio(real / "speech" / name)
    result = base_kb.transcribe(audio)  # language detected, as for a caller on an "auto" session
    assert result.language == "zh"
    # Whisper base today: 16.7% and 18.2% (docs/benchmarks.md); the target is 10%, which
    # needs a larger model than any installable here. This guards against getting worse.
    assert char_error_rate(REAL_ZH[name], result.text) <= 0.2



def test_a_language_gets_its_own_beam() -> None:
    model = FasterWhisperTranscriber.__new__(FasterWhisperTranscriber)  # no weights needed
    model.beam_size, model.beam_sizes = 1, {"zh": 5}
    assert (model._beam("zh"), model._beam("en"), model._beam(None)) == (5, 1, 1)


def test_a_batch_hears_what_each_call_alone_hears(tiny: FasterWhisperTranscriber) -> None:
    """Utterances of several sessions decoded together: the same transcripts as one by one,
    prompted ones included (grouped by prompt shape), an item's own error in its place."""
    question, _ = read_audio(SAMPLES / "en_question_returns.wav")
    silence, _ = read_audio(SAMPLES / "silence_2s.wav")
    items = [(question, "en", None), (question[: len(question) // 2], None, None),
             (question, "en", "About my order."), (silence, "en", None),
             (question[len(question) // 2:], "en", "How long"),
             (np.zeros((2, 100), dtype=np.float32), "en", None)]
    alone = [tiny.transcribe(a, language=lang, prompt=p).text for a, lang, p in items[:-1]]
    before = dict(tiny.counts)
    together = tiny.transcribe_batch(items)
    assert [r.text for r in together[:-1] if not isinstance(r, Exception)] == alone
    assert isinstance(together[-1], Exception) and "mono" in str(together[-1])
    assert tiny.counts["batched"] - before["batched"] >= 2  # the unprompted ones shared a call
    assert tiny.counts["padded"] == before["padded"]
