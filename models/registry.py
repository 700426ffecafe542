"""Speech engines chosen by the settings value: what each one hears or speaks is declared here, as
data, and the gateway picks from these tables (gateway/engines.py) instead of naming engines.

Adding an engine is one entry: its settings value, the languages it covers, whether its packages
are optional (a missing optional voice falls back to espeak-ng), and a loader that imports its
adapter lazily (so a missing extra costs nothing until the engine is chosen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from models.base import EndOfTurnModel, Synthesizer, Transcriber


@dataclass(frozen=True)
class EngineOptions:
    """What the settings say about the engines, handed to a loader."""

    asr_threads: int = 1  # the same defaults as the [speech] settings
    asr_workers: int = 2  # calls decoded at once (each with asr_threads threads)
    beam_size: int = 1
    asr_vocabulary: Mapping[str, str] = field(default_factory=dict)  # language -> hotwords
    asr_prompts: Mapping[str, str] = field(default_factory=dict)  # language -> default prompt
    asr_beams: Mapping[str, int] = field(default_factory=dict)  # language -> beam size
    piper_voice: str = ""
    espeak_words_per_minute: int = 140


@dataclass(frozen=True)
class AsrEngine:
    key: str  # the cache key, also named in traces and tests
    languages: tuple[str, ...]  # what it hears; () = multilingual (it detects the language)
    load: Callable[[EngineOptions], Transcriber]


@dataclass(frozen=True)
class TtsEngine:
    key: str
    languages: tuple[str, ...]  # what it speaks; () = every language (the fallback voice)
    load: Callable[[EngineOptions], Synthesizer]
    optional: bool = False  # chosen only when a setting names it; missing packages: the fallback


@dataclass(frozen=True)
class TurnEngine:
    """A learned end-of-turn model; always optional (without it the pause rules decide alone)."""

    key: str
    languages: tuple[str, ...]  # what it was trained on; () = multilingual
    load: Callable[[EngineOptions], EndOfTurnModel]
    extra: str  # the extra that carries its weights


# Mandarin decoding chosen on a synthetic dev set (96 clips, scripts/zh_asr_dev.py): CER 36.6%
# greedy without prompt, 35.0% with this prompt (no cost), 33.0% with it and beam 5 (1.28x the
# CPU). Not the default: the held-out real recordings did not confirm it (docs/models.md). Turn it
# on with speech.zh_prompt = MANDARIN_PROMPT and speech.zh_beam_size = 5.
MANDARIN_PROMPT = "以下是普通话的句子。"


def _whisper(size: str) -> Callable[[EngineOptions], Transcriber]:
    def load(o: EngineOptions) -> Transcriber:
        from models.asr_faster_whisper import FasterWhisperTranscriber

        multilingual = size != "tiny.en"
        return FasterWhisperTranscriber("tiny.en" if size == "tiny.en" else "base", threads=o.asr_threads,
                                        workers=o.asr_workers, beam_size=o.beam_size,
                                        vocabulary=dict(o.asr_vocabulary) if multilingual else None,
                                        prompts=dict(o.asr_prompts) if multilingual else None,
                                        beam_sizes=dict(o.asr_beams) if multilingual else None)
    return load


def _piper(o: EngineOptions) -> Synthesizer:
    from models.tts_piper import PiperSynthesizer

    return PiperSynthesizer(f"piper-{o.piper_voice}")


def _kokoro(o: EngineOptions) -> Synthesizer:
    from models.tts_kokoro import KokoroSynthesizer

    return KokoroSynthesizer()


def _espeak(o: EngineOptions) -> Synthesizer:
    from models.tts_espeak import EspeakSynthesizer

    return EspeakSynthesizer(words_per_minute=o.espeak_words_per_minute)


def _smart_turn(o: EngineOptions) -> EndOfTurnModel:
    from models.turn_smart import SmartTurn

    return SmartTurn()


# Keyed by the settings value (speech.asr_model, voice.zh_voice, speech.turn_model).
# Read-only views: no mutable globals.
ASR_ENGINES: Mapping[str, AsrEngine] = MappingProxyType({
    "tiny.en": AsrEngine("asr:tiny.en", ("en",), _whisper("tiny.en")),
    "base": AsrEngine("asr:base", (), _whisper("base")),
})
TTS_ENGINES: Mapping[str, TtsEngine] = MappingProxyType({
    "piper": TtsEngine("tts:piper", ("en",), _piper),
    "kokoro": TtsEngine("tts:kokoro", ("zh",), _kokoro, optional=True),
    "espeak-ng": TtsEngine("tts:espeak", (), _espeak),
})
TTS_FALLBACK = "espeak-ng"
# Smart Turn v3.2 is documented as trained on 23 languages, English and Chinese among them.
TURN_MODELS: Mapping[str, TurnEngine] = MappingProxyType({
    "smart-turn-v3": TurnEngine("turn:smart-turn-v3", (), _smart_turn, "turn"),
})


def asr_for(language: str) -> str:
    """The ASR engine for a session language: one made for it alone, else a multilingual one."""
    own = [name for name, e in ASR_ENGINES.items() if e.languages == (language,)]
    return own[0] if own else next(name for name, e in ASR_ENGINES.items() if not e.languages)


def voices_for(language: str) -> tuple[str, ...]:
    """The settings values that can voice `language` (the fallback speaks every language)."""
    return tuple(name for name, e in TTS_ENGINES.items() if not e.languages or language in e.languages)


def voice_for(language: str, preferred: str = "", missing: frozenset[str] = frozenset()) -> str:
    """The voice for `language`: the preferred one when it speaks it and is installed, else the
    first built-in voice made for the language, else the fallback."""
    if preferred in voices_for(language) and preferred not in missing:
        return preferred
    own = [name for name, e in TTS_ENGINES.items()
           if language in e.languages and not e.optional and name not in missing]
    return own[0] if own else TTS_FALLBACK
