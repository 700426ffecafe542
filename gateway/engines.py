"""The process's model engines: loaded once, lazily, behind a lock; called off the event loop.

Engines are shared by all sessions. Blocking engine calls go through `run()`, which limits how
many run at once per engine (queuing here keeps a burst of calls from thrashing). `close()` closes
every engine that was loaded.

Threads are set per engine (speech.asr_threads, one per ONNX call) and, for numpy's BLAS, for the
whole process while the engines are open (server.blas_threads): with many sessions, many threads
make small matrix products at once, and OpenBLAS's own per-call threads then only spin.

An engine that fails a call is dropped and loaded afresh on its next use (the in-process form of
restarting a crashed worker); the failure reaches the session as `asr-failed` / `tts-failed`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from gateway.asr_batch import AsrBatcher, BatchTranscriber
from gateway.config import Settings
from gateway.errors import BackendError, ConfigError, GatewayError, ModelUnavailable
from models.base import (
    Closeable,
    EndOfTurnModel,
    Float32Audio,
    Synthesizer,
    Transcriber,
    Transcript,
    VoiceActivityDetector,
)
from models.clause_cache import Chunks, ClauseCache
from models.registry import (
    ASR_ENGINES,
    TTS_ENGINES,
    TTS_FALLBACK,
    TURN_MODELS,
    EngineOptions,
    asr_for,
    voice_for,
)

if TYPE_CHECKING:
    import threadpoolctl

    from modalities.screen.reader import ScreenReader
    from modalities.sign.pipeline import SignPipeline

T = TypeVar("T")

class Engines:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._waiting = 0  # calls waiting for a busy engine (ASR, TTS, ...): an admission signal
        self._batchers: dict[str, AsrBatcher] = {}  # per ASR model: calls of many sessions decoded together
        self._asr_single = 0  # ASR calls made one at a time (batching off or unsupported)
        self._max_wait_s = 0.0  # the longest such wait since the admission probe last looked
        self._missing_voices: set[str] = set()  # optional voices whose packages are not installed
        self._turn_missing = False  # speech.turn_model = "auto" and the model failed to load
        self._turn_installed: bool | None = None  # its weights package is installed (None: not looked)
        # Synthesized pieces shared by all sessions; a piece being synthesized for one caller is
        # awaited by the others who need it at the same moment (a burst of callers hears the same
        # prompt), not synthesized again.
        self.clause_cache = ClauseCache(settings.voice.clause_cache_mb * 2**20)
        self._synthesizing: dict[tuple[str, int, str, str], asyncio.Task[Chunks]] = {}
        self._blas = _limit_blas(settings.server.blas_threads)

    # ---------------------------------------------------------------- loading (blocking)

    def _get(self, key: str, factory: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = factory()
            return self._loaded[key]

    def _options(self) -> EngineOptions:
        speech, voice = self.settings.speech, self.settings.voice
        return EngineOptions(asr_threads=speech.asr_threads, asr_workers=speech.asr_workers,
                             beam_size=speech.beam_size,
                             asr_prompts={"zh": speech.zh_prompt} if speech.zh_prompt else {},
                             asr_beams={"zh": speech.zh_beam_size},
                             piper_voice=voice.piper_voice,
                             espeak_words_per_minute=voice.espeak_words_per_minute)

    def transcriber(self, model: str) -> Transcriber:
        engine = ASR_ENGINES.get(model)
        if engine is None:
            raise ConfigError(f"unknown ASR model {model!r}; one of {sorted(ASR_ENGINES)}")
        return self._get(engine.key, lambda: engine.load(dataclasses.replace(
            self._options(), asr_vocabulary=self._asr_vocabulary() if not engine.languages else {})))

    def _asr_vocabulary(self) -> dict[str, str]:
        """Mandarin domain terms of the knowledge base, as Whisper hotwords (docs/models.md)."""
        from modalities.speech.vocabulary import vocabulary

        terms = vocabulary(self.settings.core.kb_folder(), "zh")
        return {"zh": terms} if terms else {}

    def asr_model_for(self, language: str) -> str:
        """speech.asr_model, or with "auto" the engine made for the language (tiny.en for English,
        fastest), else a multilingual one (models/registry.py)."""
        configured = self.settings.speech.asr_model
        return configured if configured != "auto" else asr_for(language)

    def _voice(self, language: str) -> str:
        preferred = self.settings.voice.zh_voice if language == "zh" else ""
        return voice_for(language or "en", preferred, frozenset(self._missing_voices))

    def tts_backend(self, language: str) -> str:
        """"piper", "kokoro" or "espeak": the synthesizer that voices `language` (named in traces)."""
        return TTS_ENGINES[self._voice(language)].key.removeprefix("tts:")

    def synthesizer(self, language: str) -> Synthesizer:
        name = self._voice(language)
        engine = TTS_ENGINES[name]
        if engine.optional:
            try:
                return self._get(engine.key, lambda: engine.load(self._options()))
            except ModelUnavailable:  # its packages are optional: speak with the fallback instead
                self._missing_voices.add(name)
                engine = TTS_ENGINES[TTS_FALLBACK]
        return self._get(engine.key, lambda: engine.load(self._options()))

    def turn_model_name(self) -> str | None:
        """The end-of-turn model sessions use: speech.turn_model, or with "auto" Smart Turn when
        its weights package is installed (a metadata check, nothing loaded); None: pause rules only."""
        from models import weights

        configured = self.settings.speech.turn_model
        if configured == "off" or (configured == "auto" and self._turn_missing):
            return None
        if configured != "auto":
            return configured
        if self._turn_installed is None:  # asked once per session: look the package up once
            self._turn_installed = weights.installed("smart-turn-v3.2-cpu")
        return next(iter(TURN_MODELS)) if self._turn_installed else None

    def turn_model(self, name: str) -> EndOfTurnModel:
        engine = TURN_MODELS[name]
        return self._get(engine.key, lambda: engine.load(self._options()))

    def screen_reader(self) -> ScreenReader:
        """A reader per session (it keeps the previous screenshot) on the shared OCR engine."""
        from modalities.screen.engines import SharedEngine
        from modalities.screen.reader import ScreenReader

        shared = self._get("ocr", lambda: SharedEngine(self.settings.screen))
        return ScreenReader(self.settings.screen, shared.get)

    def sign_pipeline(self) -> SignPipeline:
        """A pipeline per session: the hand tracker follows one video stream in time."""
        from modalities.sign.pipeline import SignPipeline
        from models.hands_mediapipe import MediapipeHandTracker
        from models.sign_classifier import MlpSignClassifier

        settings = self.settings.sign
        classifier = self._get("sign-classifier", MlpSignClassifier)  # read-only: shared
        return SignPipeline(settings, lambda: MediapipeHandTracker(num_hands=settings.max_hands), classifier)

    def new_vad(self) -> VoiceActivityDetector:
        """VAD keeps per-stream state: every session gets its own state on the one loaded model."""
        from models.vad_silero import SileroVad

        return self._get("vad", SileroVad).fork()

    def preload(self, languages: tuple[str, ...] = ("en",)) -> None:
        """Loads and warms what a first call needs, so the first caller does not wait (blocking).

        ONNX and CTranslate2 run their first inference several times slower than the next ones.
        """
        for language in languages:
            asr = self.transcriber(self.asr_model_for(language))
            spoken = "en" if language == "auto" else language
            asr.transcribe(np.zeros(16000, dtype=np.float32), language=spoken)
            for _ in self.synthesizer(spoken).synthesize("Hello.", language=spoken):
                pass
        vad = self.new_vad()
        vad.probability(np.zeros(vad.window_samples, dtype=np.float32))
        vad.close()
        turn = self.turn_model_name()
        if turn is not None:
            try:
                self.turn_model(turn).probability(np.zeros(16000, dtype=np.float32))
            except ModelUnavailable as exc:
                self._turn_unavailable(exc)
        self._warm_sign()

    def _warm_sign(self) -> None:
        """The first hand tracker of a process costs ~0.7 s (mediapipe's own start-up), enough for
        a kiosk user's first sign to pass unseen; later ones take ~30 ms."""
        from gateway.errors import ModelUnavailable

        try:
            pipeline = self.sign_pipeline()
            try:
                pipeline.warm()  # the tracker is made here: a missing sign extra shows here too
            finally:
                pipeline.close()
        except ModelUnavailable:  # sign language is optional: its extra or weights may be absent
            return

    # ---------------------------------------------------------------- calling (async)

    @property
    def waiting(self) -> int:
        """Calls waiting for a busy engine, ASR calls queued for their batch included."""
        return self._waiting + sum(b.waiting for b in self._batchers.values())

    def asr_work(self) -> tuple[int, int]:
        """(utterances given to an ASR engine, engine calls made) since start, over all models."""
        batched = [(b.decoded, b.batches) for b in self._batchers.values()]
        return (self._asr_single + sum(d for d, _ in batched), self._asr_single + sum(c for _, c in batched))

    def _waited(self, seconds: float) -> None:
        self._max_wait_s = max(self._max_wait_s, seconds)

    async def run(self, key: str, func: Callable[..., T], *args: Any, limit: int = 1) -> T:
        sem = self._limits.setdefault(key, asyncio.Semaphore(limit))
        self._waiting += 1
        queued, since = True, time.monotonic()
        try:
            async with sem:
                self._waiting, queued = self._waiting - 1, False
                self._waited(time.monotonic() - since)
                return await asyncio.to_thread(func, *args)
        finally:
            if queued:  # cancelled while waiting
                self._waiting -= 1

    def take_max_wait(self) -> float:
        """The longest wait for an engine since the last call (seconds); for the admission probe."""
        wait, self._max_wait_s = self._max_wait_s, 0.0
        return wait

    async def transcribe(self, model: str, audio: Float32Audio, language: str | None,
                         prompt: str | None) -> Transcript:
        engine = await asyncio.to_thread(self.transcriber, model)
        if engine.info.languages == ("en",):  # an English-only model: nothing to detect
            language = "en"
        key = f"asr:{model}"
        try:
            batcher = self._batcher(key, engine)
            if batcher is not None:
                return await batcher.transcribe(audio, language, prompt)
            self._asr_single += 1
            return await self.run(key, lambda: engine.transcribe(audio, language=language, prompt=prompt),
                                  limit=self.settings.speech.asr_workers)
        except GatewayError:
            raise
        except Exception as exc:
            self._drop(key, engine)
            raise BackendError(f"speech recognition failed ({type(exc).__name__}); it is being reloaded",
                               code="asr-failed") from exc

    async def end_of_turn(self, name: str, audio: Float32Audio) -> float | None:
        """Probability that the turn in `audio` is over; None when an "auto" model is unavailable
        (the session goes on with the pause rules). Up to two calls at once: ~40 ms each."""
        try:
            model = await asyncio.to_thread(self.turn_model, name)
        except ModelUnavailable as exc:
            self._turn_unavailable(exc)
            return None
        key = TURN_MODELS[name].key
        try:
            return await self.run(key, model.probability, audio, limit=2)
        except GatewayError:
            raise
        except Exception as exc:
            self._drop(key, model)
            raise BackendError(f"the end-of-turn model failed ({type(exc).__name__}); "
                               "it is being reloaded") from exc

    def _turn_unavailable(self, exc: ModelUnavailable) -> None:
        """The end-of-turn model cannot load: with "auto" the sessions go on with the pause rules
        alone; a model named in the settings is an error."""
        if self.settings.speech.turn_model != "auto":
            raise exc
        self._turn_missing = True

    def _batcher(self, key: str, engine: Transcriber) -> AsrBatcher | None:
        """The engine's batcher (a reloaded engine gets a new one); None: batching off or unsupported."""
        size = self.settings.speech.asr_batch
        if size < 2 or not isinstance(engine, BatchTranscriber):
            return None
        batcher = self._batchers.get(key)
        if batcher is None or batcher.engine is not engine:
            workers = self.settings.speech.asr_workers
            batcher = AsrBatcher(engine, lambda call: self.run(key, call, limit=workers), max_batch=size,
                                 waited=self._waited)
            self._batchers[key] = batcher
        return batcher

    async def synthesize(self, text: str, language: str) -> tuple[list[np.ndarray], int]:
        """Audio chunks of `text` and their sample rate (from the clause cache when voiced before)."""
        synth = await asyncio.to_thread(self.synthesizer, language)
        rate = synth.info.sample_rate
        key = _clause_key(synth, language, text)
        cached = self.clause_cache.get(key, count=False)
        running = self._synthesizing.get(key)
        self.clause_cache.count(cached is not None or running is not None)
        if cached is not None:
            return list(cached), rate
        if running is None:  # its own task: a caller who hangs up does not cancel it for the others
            running = asyncio.get_running_loop().create_task(self._synthesize(synth, key))
            self._synthesizing[key] = running
            running.add_done_callback(lambda task: self._synthesized(key, task))
        return list(await asyncio.shield(running)), rate

    def _synthesized(self, key: tuple[str, int, str, str], task: asyncio.Task[Chunks]) -> None:
        self._synthesizing.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: every caller who still waits got it through the shield

    async def _synthesize(self, synth: Synthesizer, key: tuple[str, int, str, str]) -> Chunks:
        _, _, language, text = key
        try:
            chunks = await self.run(f"tts:{synth.info.name}",
                                    lambda: list(synth.synthesize(text, language=language)))
        except GatewayError:
            raise
        except Exception as exc:
            self._drop(TTS_ENGINES[self._voice(language)].key, synth)
            raise BackendError(f"speech synthesis failed ({type(exc).__name__}); it is being reloaded",
                               code="tts-failed") from exc
        return self.clause_cache.put(key, chunks)

    def warm_prompts(self, texts: dict[str, list[str]]) -> int:
        """Synthesizes fixed prompts into the clause cache, cut as the reply worker cuts them
        (blocking; at start-up). Returns the pieces added; a piece that fails is skipped."""
        from modalities.voice.clauses import speakable_pieces, warm

        warm()  # the Chinese cutting of reply clauses
        added = 0
        for language, lines in texts.items():
            synth = self.synthesizer(language)
            for piece in {p for line in lines for p in speakable_pieces(line)}:
                key = _clause_key(synth, language, piece)
                if self.clause_cache.get(key, count=False) is not None:
                    continue
                try:
                    self.clause_cache.put(key, list(synth.synthesize(piece, language=language)))
                    added += 1
                except Exception:  # a prompt that cannot be voiced now is voiced (or reported) on use
                    logging.getLogger("gateway.engines").exception("cannot precompute %r", piece)
        return added

    def _drop(self, key: str, engine: object) -> None:
        """Forgets a failed engine (only if it is still the loaded one); calls in flight keep it."""
        with self._lock:
            if self._loaded.get(key) is engine:
                del self._loaded[key]

    def close(self) -> None:
        with self._lock:
            engines, self._loaded = list(self._loaded.values()), {}
        for engine in engines:
            if isinstance(engine, Closeable):
                engine.close()
        self.clause_cache.clear()
        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None


def _limit_blas(threads: int) -> threadpoolctl.threadpool_limits | None:
    """Caps numpy's BLAS threads for the process (0: leaves them); the handle undoes it."""
    if threads <= 0:
        return None
    import threadpoolctl

    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


def _clause_key(synth: Synthesizer, language: str, text: str) -> tuple[str, int, str, str]:
    """A voiced piece in the clause cache: the same text in another voice or rate is another piece."""
    return synth.info.name, synth.info.sample_rate, language, text
