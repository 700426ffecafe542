"""PP-OCRv4 (the ONNX models bundled in rapidocr-onnxruntime 1.4.4) behind OcrEngine.

`PpOcrV4Engine` runs the bundled det/rec models through our own tuned pipeline
(models/ppocr_onnx.py); `RapidOcrStock` is RapidOCR itself with its default settings, kept as the
reference the benchmark compares against. Weights are located and sha256-checked through
models.weights (manifest models/manifests/ocr.json); nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.base import OcrInfo, OcrLine
from models.extras import needs_extra
from models.ppocr_onnx import PpOcrEngine, PpOcrOnnx, PpOcrTuning

DET_FILE = "ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"


class PpOcrV4Engine(PpOcrEngine):
    """Thread-safe (one inference at a time)."""

    info = OcrInfo(name="ppocr-v4", languages=("zh", "en"))

    def __init__(self, tuning: PpOcrTuning | None = None, min_confidence: float = 0.5) -> None:
        from models.weights import resolve

        folder = resolve("ppocr-v4")
        # The v4 recogniser carries its dictionary in the ONNX metadata.
        super().__init__(PpOcrOnnx(folder / DET_FILE, folder / REC_FILE, None, tuning or PpOcrTuning()),
                         min_confidence)


class RapidOcrStock:
    """rapidocr_onnxruntime.RapidOCR() exactly as shipped (det 736 min-side, angle classifier,
    batch 6): the baseline for `gateway bench ocr` and `gateway eval ocr`."""

    info = OcrInfo(name="rapidocr-default", languages=("zh", "en"))

    def __init__(self) -> None:
        with needs_extra("ocr", "the RapidOCR baseline"):
            from rapidocr_onnxruntime import RapidOCR
        self._engine = RapidOCR()

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        # RapidOCR takes arrays as BGR, as cv2 would hand them over.
        return self._lines(self._engine(np.ascontiguousarray(image[:, :, ::-1]))[0])

    def read_bytes(self, data: bytes) -> list[OcrLine]:
        """The stock path from encoded bytes (its own decoder), for a like-for-like benchmark."""
        return self._lines(self._engine(data)[0])

    @staticmethod
    def _lines(result: list[list[object]] | None) -> list[OcrLine]:
        lines = []
        for box, text, score in result or ():
            points = tuple((float(x), float(y)) for x, y in box)  # type: ignore[attr-defined]
            lines.append(OcrLine(str(text), points, float(score)))  # type: ignore[arg-type]
        return lines

    def close(self) -> None:
        self.__dict__.pop("_engine", None)
