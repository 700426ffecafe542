"""ScreenReader: screenshot bytes to a ScreenResult (and a TextTurn), reusing what did not change.

Per reader (one per session or screen share) it keeps the previous screenshot's tile digests and
lines, and a bounded cache of recognised line crops keyed by their pixels' digest:
- identical screenshot: every line is reused, no model runs;
- some tiles changed: only the changed region (grown to whole previous lines it touches) is
  detected again; lines outside it are kept;
- detected lines whose crop was recognised before (also after scrolling) skip recognition.
Blocking: the session calls read() from a worker thread. One read at a time per reader.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.pii import mask
from contracts.turns import TextTurn
from modalities.screen.engines import StagedOcrEngine
from modalities.screen.fields import Field, ScreenKind, classify, extract_fields, summarise
from modalities.screen.intake import decode_image
from modalities.screen.layout import Block, Line, from_ocr, reading_order, rule_finder
from modalities.screen.settings import ScreenSettings
from models.base import OcrEngine, OcrLine
from models.ppocr_onnx import crop_box

Image = npt.NDArray[np.uint8]
REGION_MAX_SHARE = 0.6  # a changed region larger than this share of the image: detect it all


@dataclass(frozen=True)
class ScreenResult:
    lines: tuple[Line, ...]  # reading order, PII masked
    blocks: tuple[Block, ...]
    fields: tuple[Field, ...]  # PII masked
    kind: ScreenKind
    summary: str  # English; to_turn() words it for the session's language
    full_text: str  # PII masked, capped at settings.max_text_chars
    size: tuple[int, int]  # width, height
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    reused_lines: int = 0  # lines taken from the previous screenshot or the crop cache
    masked: tuple[str, ...] = ()  # kinds of PII that were masked

    def to_turn(self, language: str) -> TextTurn:
        summary = summarise(self.kind, self.fields, self.full_text, language)
        detail: dict[str, Any] = {
            "kind": self.kind,
            "fields": [{"kind": f.kind, "value": f.value, "label": f.label} for f in self.fields],
            "full_text": self.full_text,
        }
        return TextTurn(text=summary, language=language, modality="screen", detail=detail)


@dataclass
class _Previous:
    shape: tuple[int, ...]
    tiles: npt.NDArray[np.bytes_]
    lines: list[OcrLine]


class ScreenReader:
    def __init__(self, settings: ScreenSettings, engine_factory: Callable[[], OcrEngine]) -> None:
        settings.validate()
        self.settings = settings
        self._factory = engine_factory
        self._engine: OcrEngine | None = None
        self._previous: _Previous | None = None
        self._crops: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, data: bytes) -> ScreenResult:
        """Blocking. Raises the intake's MediaError/LimitExceeded subclasses on bad images."""
        with self._lock:
            timings: dict[str, float] = {}
            start = time.perf_counter()
            image = decode_image(data, self.settings)
            timings["decode"] = _ms(start)
            ocr_lines, reused = self._recognise(image, timings)
            return self._understand(image, ocr_lines, reused, timings, start)

    def recognise(self, image: Image) -> list[OcrLine]:
        """The OCR stage alone (with reuse), unmasked: for evaluation."""
        with self._lock:
            return self._recognise(image, {})[0]

    def close(self) -> None:
        """Drops this reader's state; the engine belongs to whoever made the factory."""
        with self._lock:
            self._engine = None
            self._previous = None
            self._crops.clear()

    # ------------------------------------------------------------------ stages

    def _recognise(self, image: Image, timings: dict[str, float]) -> tuple[list[OcrLine], int]:
        if self._engine is None:
            self._engine = self._factory()
        engine = self._engine
        if not isinstance(engine, StagedOcrEngine):  # e.g. paddleocr: no reuse, whole image
            t = time.perf_counter()
            lines = engine.read(image)
            timings["ocr"] = _ms(t)
            return lines, 0
        t = time.perf_counter()
        tiles = _tile_digests(image, self.settings.tile_px) if self.settings.reuse else None
        kept: list[OcrLine] = []
        region = (0, 0, image.shape[1], image.shape[0])
        prev = self._previous
        if tiles is not None and prev is not None and prev.shape == image.shape:
            changed = tiles != prev.tiles
            if not changed.any():
                timings["diff"] = _ms(t)
                return list(prev.lines), len(prev.lines)
            grown = _changed_region(changed, self.settings.tile_px, prev.lines, image.shape)
            x0, y0, x1, y1 = grown
            if (x1 - x0) * (y1 - y0) <= REGION_MAX_SHARE * image.shape[0] * image.shape[1]:
                region = grown
                kept = [ln for ln in prev.lines if not _intersects(_rect(ln), region)]
        timings["diff"] = _ms(t)

        t = time.perf_counter()
        x0, y0, x1, y1 = region
        offset = np.array([x0, y0], np.float32)
        detected = engine.detect(image[y0:y1, x0:x1], (image.shape[0], image.shape[1]))
        # A pathological image (noise, a text wall) must not cost unbounded recognition.
        boxes = [b + offset for b in detected[:self.settings.max_lines]]
        timings["detect"] = _ms(t)

        t = time.perf_counter()
        crops = [crop_box(image, b) for b in boxes]
        keys = [_digest(c) for c in crops]
        todo = [i for i, k in enumerate(keys) if k not in self._crops]
        texts = engine.recognize([crops[i] for i in todo]) if todo else []
        for i, result in zip(todo, texts, strict=True):
            self._remember(keys[i], result)
        lines = list(kept)
        for box, key in zip(boxes, keys, strict=True):
            text, conf = self._crops.get(key, ("", 0.0))
            if conf >= self.settings.min_confidence and text.strip():
                lines.append(OcrLine(text, tuple((float(x), float(y)) for x, y in box), conf))
        timings["recognize"] = _ms(t)
        if tiles is not None:
            self._previous = _Previous(image.shape, tiles, lines)
        return lines, len(kept) + (len(boxes) - len(todo))

    def _understand(self, image: Image, ocr_lines: Sequence[OcrLine], reused: int,
                    timings: dict[str, float], start: float) -> ScreenResult:
        t = time.perf_counter()
        ordered, blocks = reading_order(from_ocr(ocr_lines), rule_finder(image))
        ordered = ordered[:self.settings.max_lines]
        timings["layout"] = _ms(t)
        t = time.perf_counter()
        fields = extract_fields(ordered)
        kind = classify(ordered, fields)
        found: set[str] = set()
        masked_lines = []
        for ln in ordered:
            m = mask(ln.text)
            found.update(m.kinds)
            masked_lines.append(Line(m.text, ln.box, ln.confidence, ln.row, ln.block))
        masked_fields = []
        for f in fields:
            m = mask(f.value)
            found.update(m.kinds)
            masked_fields.append(Field(f.kind, m.text, f.label))
        masked_blocks = tuple(Block(tuple(ln for ln in masked_lines if ln.block == b))
                              for b in range(len(blocks)))
        full_text = "\n".join(b.text for b in masked_blocks)[:self.settings.max_text_chars]
        summary = summarise(kind, masked_fields, full_text, "en")
        timings["understand"] = _ms(t)
        timings["total"] = _ms(start)
        return ScreenResult(tuple(masked_lines), tuple(b for b in masked_blocks if b.lines),
                            tuple(masked_fields), kind, summary, full_text,
                            (int(image.shape[1]), int(image.shape[0])), timings, reused,
                            tuple(sorted(found)))

    def _remember(self, key: bytes, result: tuple[str, float]) -> None:
        if self.settings.crop_cache == 0:
            return
        self._crops[key] = result
        self._crops.move_to_end(key)
        while len(self._crops) > self.settings.crop_cache:
            self._crops.popitem(last=False)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _digest(pixels: Image) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(pixels.shape).encode())
    h.update(np.ascontiguousarray(pixels).data)
    return h.digest()


def _tile_digests(image: Image, tile: int) -> npt.NDArray[np.bytes_]:
    rows, cols = -(-image.shape[0] // tile), -(-image.shape[1] // tile)
    out = np.empty((rows, cols), dtype="S16")
    for r in range(rows):
        band = image[r * tile:(r + 1) * tile]
        for c in range(cols):
            out[r, c] = _digest(band[:, c * tile:(c + 1) * tile])
    return out


def _rect(line: OcrLine) -> tuple[int, int, int, int]:
    xs = [p[0] for p in line.box]
    ys = [p[1] for p in line.box]
    return int(min(xs)), int(min(ys)), int(np.ceil(max(xs))), int(np.ceil(max(ys)))


def _intersects(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _changed_region(changed: npt.NDArray[np.bool_], tile: int, lines: Sequence[OcrLine],
                    shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Bounding box of changed tiles, grown until no previous line straddles its edge, plus a
    margin so the detector sees text with some background around it."""
    ys, xs = np.nonzero(changed)
    margin = tile // 2
    region = (max(0, int(xs.min()) * tile - margin), max(0, int(ys.min()) * tile - margin),
              min(shape[1], (int(xs.max()) + 1) * tile + margin),
              min(shape[0], (int(ys.max()) + 1) * tile + margin))
    rects = [_rect(ln) for ln in lines]
    grew = True
    while grew:
        grew = False
        for r in rects:
            if _intersects(r, region) and not (r[0] >= region[0] and r[1] >= region[1]
                                                and r[2] <= region[2] and r[3] <= region[3]):
                region = (min(region[0], max(0, r[0] - 4)), min(region[1], max(0, r[1] - 4)),
                          max(region[2], min(shape[1], r[2] + 4)), max(region[3], min(shape[0], r[3] + 4)))
                grew = True
    return region
