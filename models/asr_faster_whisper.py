"""Transcriber on faster-whisper (CTranslate2, int8 on CPU) with the bundled tiny.en or base weights.

The segments generator is materialised inside transcribe() (iterating it is what decodes).
The pipeline runs its own VAD, so faster-whisper's is off; condition_on_previous_text is off
because it turns a second language into hallucinated English on long multilingual audio.
Chinese output is converted to simplified characters: the base model often answers traditional.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import numpy as np

from gateway.errors import LimitExceeded, MediaError, ModelUnavailable
from models import weights
from models.base import Float32Audio, TranscriberInfo, Transcript
from models.extras import needs_extra

WhisperSize = Literal["tiny.en", "base"]
MAX_AUDIO_SECONDS = 600.0
_MIN_SAMPLES = 1600  # 0.1 s: shorter input cannot hold a word


class FasterWhisperTranscriber:
    def __init__(
        self,
        model: WhisperSize = "tiny.en",
        *,
        threads: int = 2,
        beam_size: int = 1,
        temperatures: tuple[float, ...] = (0.0,),
        hotwords: str | None = None,
    ) -> None:
        if model not in ("tiny.en", "base"):
            raise ModelUnavailable(f"unknown whisper model {model!r}; choose 'tiny.en' or 'base'")
        with needs_extra("voice", "speech recognition"):
            from faster_whisper import WhisperModel  # lazy: ctranslate2 is heavy to import

        folder = weights.resolve(f"whisper-{model}")
        try:
            self._model: Any = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                            cpu_threads=threads, num_workers=1, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"cannot load whisper {model} from {folder}: {exc}") from exc
        if model == "tiny.en":
            languages: tuple[str, ...] = ("en",)
        else:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            languages = tuple(_LANGUAGE_CODES)
        self.info = TranscriberInfo(name=f"faster-whisper-{model}", languages=languages, sample_rate=16000)
        self.beam_size = beam_size
        # One greedy pass by default: faster-whisper's fallback ladder (0.0 .. 1.0) re-decodes up
        # to six times on low-confidence audio (measured 6.5x slower on a synthetic Chinese clip).
        self.temperatures = list(temperatures) or [0.0]
        self.hotwords = hotwords  # domain words (product names) whisper would otherwise misspell
        self._t2s: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                raise ModelUnavailable(f"{self.info.name} was closed")
            return self._model  # in-flight calls keep their reference if close() races them

    def _check(self, audio: Float32Audio, language: str | None) -> Float32Audio:
        if language is not None and language not in self.info.languages:
            raise ModelUnavailable(f"{self.info.name} does not transcribe {language!r}",
                                   code="asr-language-unsupported")
        arr = np.asarray(audio, dtype=np.float32)
        if arr.ndim != 1:
            raise MediaError(f"expected mono audio, got shape {arr.shape}", code="audio-bad-format")
        if arr.size > MAX_AUDIO_SECONDS * self.info.sample_rate:
            raise LimitExceeded(f"audio longer than {MAX_AUDIO_SECONDS:g} s", code="audio-too-long")
        return arr

    def transcribe(
        self, audio: Float32Audio, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        arr = self._check(audio, language)
        seconds = arr.size / self.info.sample_rate
        if len(self.info.languages) == 1:
            language = self.info.languages[0]  # an English-only model has nothing to detect
        if arr.size < _MIN_SAMPLES:
            return Transcript("", language or self.info.languages[0], 0.0, seconds)
        segments, run = self._loaded().transcribe(
            arr, language=language, initial_prompt=prompt, beam_size=self.beam_size,
            temperature=self.temperatures, condition_on_previous_text=False, vad_filter=False,
            hotwords=self.hotwords,
        )
        parts = tuple((float(s.start), float(s.end), str(s.text).strip()) for s in segments)
        lang = str(run.language)
        text = self._normalise(" ".join(p[2] for p in parts if p[2]).strip(), lang)
        if lang == "zh":
            parts = tuple((start, end, self._normalise(t, lang)) for start, end, t in parts)
        return Transcript(text, lang, float(run.language_probability), seconds, parts)

    def detect_language(self, audio: Float32Audio) -> tuple[str, float]:
        """Most likely language of the first 30 s (one encoder pass plus one decoder step)."""
        arr = self._check(audio, None)
        if len(self.info.languages) == 1:
            return self.info.languages[0], 1.0
        lang, prob, _ = self._loaded().detect_language(audio=arr)
        return str(lang), float(prob)

    def _normalise(self, text: str, language: str) -> str:
        if language != "zh" or not text:
            return text
        if self._t2s is None:
            with needs_extra("zh", "Chinese transcripts"):
                from opencc import OpenCC  # lazy: only multilingual sessions that hear Chinese need it

            self._t2s = OpenCC("t2s")
        return str(self._t2s.convert(text))

    def close(self) -> None:
        with self._lock:
            self._model = None  # ctranslate2 frees the weights when the last reference goes
