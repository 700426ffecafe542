"""Synthesizer on piper-tts with the bundled en_US-joe-medium voice (22.05 kHz), one chunk per sentence.

PiperVoice.load() offers no session options, so the ONNX session is built here to set the
thread count (one per call keeps concurrent calls from oversubscribing the two cores).
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
from models.extras import needs_extra


class PiperSynthesizer:
    def __init__(
        self, voice: str = "piper-en_US-joe-medium", *, threads: int = 1, volume: float = 1.0
    ) -> None:
        with needs_extra("voice", "speech synthesis"):
            import onnxruntime as ort  # lazy: engines load only when configured
            from piper import PiperVoice, SynthesisConfig
            from piper.config import PiperConfig

        folder = weights.resolve(voice)
        model = folder / f"{voice.removeprefix('piper-')}.onnx"
        try:
            config = PiperConfig.from_dict(json.loads(model.with_suffix(".onnx.json").read_text("utf-8")))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime and the config parser raise untyped errors
            raise ModelUnavailable(f"cannot load piper voice {model}: {exc}") from exc
        self._voice: Any = PiperVoice(session=session, config=config)
        self._syn_config = SynthesisConfig(volume=volume)
        language = str(config.espeak_voice).split("-")[0] or "en"
        self.info = SynthesizerInfo(name=voice, languages=(language,), sample_rate=int(config.sample_rate))
        self._lock = threading.Lock()

    def synthesize(self, text: str, *, language: str) -> Iterator[Int16Audio]:
        self.info.check(text, language)
        with self._lock:
            if self._voice is None:
                raise ModelUnavailable(f"{self.info.name} was closed")
            chunks = iter(self._voice.synthesize(text, self._syn_config))
        while True:
            # Hold the lock while a sentence is computed, never while the caller consumes it.
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            audio = np.asarray(chunk.audio_int16_array, dtype=np.int16)
            if audio.size:
                yield audio

    def close(self) -> None:
        with self._lock:
            self._voice = None
