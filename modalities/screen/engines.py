"""OCR engines by name, and the staged interface the reader uses to reuse unchanged regions."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from contracts.errors import ConfigError
from modalities.screen.settings import ScreenSettings
from models.base import OcrEngine


@runtime_checkable
class StagedOcrEngine(Protocol):
    """An OcrEngine that also exposes its two stages (the PP-OCR ONNX engines do)."""

    def detect(self, image: npt.NDArray[np.uint8], full_size: tuple[int, int] | None = None
               ) -> Sequence[npt.NDArray[np.float32]]:
        """4x2 boxes; full_size=(h, w) when image is a region of a larger screenshot."""
        ...

    def recognize(self, crops: Sequence[npt.NDArray[np.uint8]]) -> list[tuple[str, float]]: ...


def create_engine(settings: ScreenSettings) -> OcrEngine:
    """Blocking (loads and checks weights): call it from a worker thread."""
    from models.ppocr_onnx import PpOcrTuning

    tuning = PpOcrTuning(det_max_side=settings.det_max_side, threads=settings.threads)
    if settings.engine == "ppocr-v4":
        from models.ocr_rapid import PpOcrV4Engine

        return PpOcrV4Engine(tuning, settings.min_confidence)
    if settings.engine == "ppocr-v5":
        from models.ocr_onnxocr import PpOcrV5Engine

        return PpOcrV5Engine(tuning, settings.min_confidence)
    if settings.engine == "paddleocr":
        from models.ocr_paddle import PaddleOcrEngine

        return PaddleOcrEngine(settings.min_confidence)
    raise ConfigError(f"unknown screen.engine {settings.engine!r}")


class SharedEngine:
    """One engine per process, loaded on first use and shared by every session's reader
    (the engine serialises its own inferences). Pass `shared.get` as a reader's engine_factory;
    the owner (the app) calls close() at shutdown."""

    def __init__(self, settings: ScreenSettings) -> None:
        self._settings = settings
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()

    def get(self) -> OcrEngine:
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(self._settings)
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
