"""Optional backend: PaddleOCR itself, for deployments that already have its inference models.

paddleocr downloads models on first use; the gateway never does, so this adapter needs the
model folders given explicitly (env GATEWAY_PADDLEOCR_DET_DIR and GATEWAY_PADDLEOCR_REC_DIR)
and refuses to start without them. paddleocr/paddlepaddle are not project requirements:
imported lazily, and their absence is a ModelUnavailable naming what to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.errors import ModelUnavailable
from models.base import OcrInfo, OcrLine

DET_ENV = "GATEWAY_PADDLEOCR_DET_DIR"
REC_ENV = "GATEWAY_PADDLEOCR_REC_DIR"


class PaddleOcrEngine:
    """Whole-image reads only (no stage access, so a screen reader cannot reuse regions)."""

    info = OcrInfo(name="paddleocr", languages=("zh", "en"))

    def __init__(self, min_confidence: float = 0.5) -> None:
        dirs = {env: os.environ.get(env, "") for env in (DET_ENV, REC_ENV)}
        missing = [env for env, path in dirs.items() if not path or not Path(path).is_dir()]
        if missing:
            raise ModelUnavailable(
                f"paddleocr backend needs local model folders in {', '.join(missing)} "
                "(the gateway never lets paddleocr download models)")
        try:
            from paddleocr import PaddleOCR
        except ImportError as exc:
            raise ModelUnavailable(
                "paddleocr backend needs: pip install paddleocr paddlepaddle (not bundled)") from exc
        self._ocr: Any = PaddleOCR(det_model_dir=dirs[DET_ENV], rec_model_dir=dirs[REC_ENV],
                                   use_angle_cls=False, show_log=False)
        self.min_confidence = min_confidence

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # PaddleOCR takes cv2-style BGR arrays
        pages = self._ocr.ocr(bgr, cls=False) or []
        lines: list[OcrLine] = []
        for page in pages:
            for box, (text, score) in page or ():
                if float(score) >= self.min_confidence and str(text).strip():
                    points = tuple((float(x), float(y)) for x, y in box)
                    lines.append(OcrLine(str(text), points, float(score)))
        return lines

    def close(self) -> None:
        self.__dict__.pop("_ocr", None)
