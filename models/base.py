"""The small Protocols every model engine adapter implements, and capability records as data.

Adapters live one per module in models/ (60 to 150 lines each); they import their engine lazily,
load weights through models.weights (sha256-checked, never downloaded), and are blocking: callers
run them in a worker thread (never on the event loop). Every engine has close().
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from contracts.errors import LimitExceeded, ModelUnavailable

Float32Audio = npt.NDArray[np.float32]  # mono, range -1..1
Int16Audio = npt.NDArray[np.int16]  # mono PCM16


# ---------------------------------------------------------------- speech in


@dataclass(frozen=True)
class TranscriberInfo:
    name: str
    languages: tuple[str, ...]  # ISO 639-1 codes; ("en",) for an English-only model
    sample_rate: int  # the rate transcribe() expects


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # ISO 639-1
    language_probability: float
    audio_seconds: float
    segments: tuple[tuple[float, float, str], ...] = ()  # (start, end, text)
    # With the language given: the language the audio sounds like and its probability, when the
    # engine could tell at no extra cost (a session that guessed wrong switches on it); else None.
    heard: tuple[str, float] | None = None


class Transcriber(Protocol):
    info: TranscriberInfo

    def transcribe(
        self, audio: Float32Audio, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """Blocking; audio at info.sample_rate. language=None detects it."""
        ...

    def close(self) -> None: ...


class VoiceActivityDetector(Protocol):
    sample_rate: int
    window_samples: int  # samples per call to probability()

    def probability(self, window: Float32Audio) -> float:
        """Speech probability of one window; stateful (call reset() between streams)."""
        ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class EndOfTurnModel(Protocol):
    """A learned end-of-turn detector: reads the turn's audio so far (ending in the pause)."""

    sample_rate: int
    max_seconds: int  # the audio it reads at most (older audio is ignored)

    def probability(self, audio: Float32Audio) -> float:
        """Probability that the speaker has finished their turn; thread-safe."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- voice out


@dataclass(frozen=True)
class SynthesizerInfo:
    name: str
    languages: tuple[str, ...]
    sample_rate: int
    max_text_chars: int = 4000

    def check(self, text: str, language: str) -> None:
        """The one request check every voice makes before synthesising (stable error codes)."""
        if language not in self.languages:
            raise ModelUnavailable(f"{self.name} does not speak {language!r}",
                                   code="tts-language-unsupported")
        if len(text) > self.max_text_chars:
            raise LimitExceeded(f"text of {len(text)} characters exceeds {self.max_text_chars}",
                                code="text-too-long")


class Synthesizer(Protocol):
    info: SynthesizerInfo

    def synthesize(self, text: str, *, language: str) -> Iterator[Int16Audio]:
        """Blocking generator: PCM16 chunks at info.sample_rate, one or more per sentence."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- vision


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[tuple[float, float], ...]  # 4 corner points, image pixels, clockwise from top-left
    confidence: float


@dataclass(frozen=True)
class OcrInfo:
    name: str
    languages: tuple[str, ...]


class OcrEngine(Protocol):
    info: OcrInfo

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """Blocking; image is RGB uint8 HxWx3."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Hand:
    landmarks: npt.NDArray[np.float32]  # 21x3, image-normalised x, y and relative z
    handedness: str  # "Left" | "Right" as the tracker reports it
    score: float


class HandTracker(Protocol):
    def track(self, image: npt.NDArray[np.uint8], timestamp_ms: int) -> list[Hand]:
        """Blocking; RGB uint8 HxWx3; timestamps increase within one stream."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SignPrediction:
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class SignClassifier(Protocol):
    @property
    def labels(self) -> Sequence[str]: ...

    def classify(self, hands: Sequence[Hand]) -> SignPrediction: ...


# ---------------------------------------------------------------- language


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


class LanguageModel(Protocol):
    name: str

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Blocking generator of text pieces; raise models errors on failure."""
        ...

    def close(self) -> None: ...


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking; one L2-normalised row per text."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Closeable(Protocol):
    def close(self) -> None: ...
