"""Engines are chosen from the registry by the settings value and the capabilities it declares."""

from __future__ import annotations

from models.registry import ASR_ENGINES, TTS_ENGINES, TTS_FALLBACK, asr_for, voice_for, voices_for


def test_asr_is_chosen_by_language_capability() -> None:
    assert asr_for("en") == "tiny.en"  # made for English alone: the fastest
    assert asr_for("zh") == "base" and asr_for("auto") == "base"  # else the multilingual one
    assert not ASR_ENGINES["base"].languages


def test_an_optional_voice_is_used_only_when_a_setting_names_it() -> None:
    assert voice_for("zh") == TTS_FALLBACK  # kokoro speaks zh, but nobody asked for it
    assert voice_for("zh", "kokoro") == "kokoro"
    assert voice_for("zh", "kokoro", missing=frozenset({"kokoro"})) == TTS_FALLBACK
    assert voice_for("en") == "piper" and voice_for("fr") == TTS_FALLBACK
    assert voice_for("en", "kokoro") == "piper"  # a preference for a voice that cannot speak it


def test_settings_values_come_from_the_registry() -> None:
    assert set(voices_for("zh")) == {"kokoro", "espeak-ng"}
    assert all(e.key.startswith("tts:") for e in TTS_ENGINES.values())
