"""Reading order of OCR lines on a screen: recursive XY-cut that knows tables from columns.

A screen is cut at empty vertical gaps (sidebar | content | panel) or at empty horizontal gaps
(sections, rows). A vertical cut whose pieces line up row by row is a table (or a label | value
form) rather than columns, read row by row so "Wireless Earbuds Pro  1  $59.90" stays one row,
unless a vertical edge in the pixels (a panel border, a sidebar background) separates them.
Lines that overlap vertically within a piece form a row; rows close together form a block.
Pure functions over frozen dataclasses.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.base import OcrLine

MAX_DEPTH = 64  # the recursion always shrinks its input; this only bounds pathological inputs

# rule(x0, x1, y0, y1): is there a vertical edge (panel border, sidebar background) somewhere
# in the gap x0..x1 over rows y0..y1? The strongest cue that two pieces are columns.
RuleFinder = Callable[[int, int, int, int], bool]


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    confidence: float
    row: int = 0  # lines with the same row id sit side by side (same table row / label: value)
    block: int = 0

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2


@dataclass(frozen=True)
class Block:
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return "\n".join(row_text(r) for r in group_rows(self.lines))


def from_ocr(lines: Sequence[OcrLine]) -> list[Line]:
    out = []
    for ln in lines:
        xs = [p[0] for p in ln.box]
        ys = [p[1] for p in ln.box]
        out.append(Line(ln.text.strip(), (min(xs), min(ys), max(xs), max(ys)), ln.confidence))
    return [ln for ln in out if ln.text]


def reading_order(lines: Sequence[Line], rule: RuleFinder | None = None
                  ) -> tuple[list[Line], list[Block]]:
    """Lines in reading order (with row and block ids) and the blocks they form."""
    if not lines:
        return [], []
    unit = statistics.median(ln.height for ln in lines)
    rows: list[list[Line]] = []
    _cut(list(lines), unit, rows, 0, rule)
    ordered: list[Line] = []
    blocks: list[list[Line]] = []
    prev: list[Line] | None = None
    for row_id, row in enumerate(rows):
        row.sort(key=lambda ln: ln.box[0])
        if prev is None or not _same_block(prev, row, unit):
            blocks.append([])
        tagged = [Line(ln.text, ln.box, ln.confidence, row_id, len(blocks) - 1) for ln in row]
        blocks[-1].extend(tagged)
        ordered.extend(tagged)
        prev = row
    return ordered, [Block(tuple(b)) for b in blocks]


def group_rows(lines: Sequence[Line]) -> list[list[Line]]:
    rows: dict[int, list[Line]] = {}
    for ln in lines:
        rows.setdefault(ln.row, []).append(ln)
    return list(rows.values())


def row_text(row: Sequence[Line]) -> str:
    return " ".join(ln.text for ln in row)


def rule_finder(image: npt.NDArray[np.uint8], threshold: int = 6) -> RuleFinder:
    """A RuleFinder over an RGB screenshot: some pixel column in the gap changes brightness
    against its neighbour on at least 90% of the rows (greyscale computed per strip, lazily)."""

    def rule(x0: int, x1: int, y0: int, y1: int) -> bool:
        strip = image[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        if strip.shape[0] < 2 or strip.shape[1] < 2:
            return False
        gray = strip.astype(np.int16).sum(axis=2) // 3
        edges = np.abs(np.diff(gray, axis=1)) > threshold
        return bool(edges.mean(axis=0).max() >= 0.9)

    return rule


def _core(ln: Line) -> tuple[float, float]:
    # Detector boxes are padded (unclipped); shrink vertically so neighbouring rows do not touch.
    pad = ln.height * 0.2
    return ln.box[1] + pad, ln.box[3] - pad


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Cut positions (gap middles) between the merged spans, for gaps wider than min_gap."""
    spans.sort()
    cuts = []
    end = spans[0][1]
    for start, stop in spans[1:]:
        if start - end > min_gap:
            cuts.append((start + end) / 2)
        end = max(end, stop)
    return cuts


def _split(lines: list[Line], cuts: list[float], axis: int) -> list[list[Line]]:
    pieces: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    for ln in lines:
        centre = (ln.box[0] + ln.box[2]) / 2 if axis == 0 else ln.center_y
        pieces[sum(centre > c for c in cuts)].append(ln)
    return [p for p in pieces if p]


def _cut(lines: list[Line], unit: float, rows: list[list[Line]], depth: int,
         rule: RuleFinder | None) -> None:
    if len(lines) == 1 or depth > MAX_DEPTH:
        rows.append(sorted(lines, key=lambda ln: (ln.center_y, ln.box[0])))
        return
    vcuts = _gaps([(ln.box[0], ln.box[2]) for ln in lines], max(1.0 * unit, 12.0))
    columns = _split(lines, vcuts, 0) if vcuts else []
    ruled = len(columns) > 1 and rule is not None and _ruled(columns, lines, rule)
    table = len(columns) > 1 and not ruled and _is_table(columns, unit)
    # Columns (sidebar | content | panel) start together; a piece that starts lower is the
    # right half of something further down (a table under a form), so rows come first.
    if ruled or (len(columns) > 1 and not table and _tops_aligned(columns, unit)):
        for col in columns:
            _cut(col, unit, rows, depth + 1, rule)
        return
    spans = [_core(ln) for ln in lines]
    # Wide horizontal gaps (sections) first; narrow ones (rows) only where no columns compete,
    # so rows of side-by-side columns are never interleaved.
    hcuts = _gaps(spans, unit) or (_gaps(spans, 0.0) if table or len(columns) < 2 else [])
    bands = _split(lines, hcuts, 1) if hcuts else []
    if len(bands) > 1:
        for band in bands:
            _cut(band, unit, rows, depth + 1, rule)
        return
    if len(columns) > 1 and not table:
        for col in columns:
            _cut(col, unit, rows, depth + 1, rule)
        return
    rows.append(sorted(lines, key=lambda ln: ln.box[0]))  # one row: left to right


def _ruled(columns: list[list[Line]], lines: list[Line], rule: RuleFinder) -> bool:
    y0 = int(min(ln.box[1] for ln in lines))
    y1 = int(max(ln.box[3] for ln in lines))
    return all(rule(int(max(ln.box[2] for ln in left)), int(min(ln.box[0] for ln in right)), y0, y1)
               for left, right in itertools.pairwise(columns))


def _tops_aligned(columns: list[list[Line]], unit: float) -> bool:
    tops = [min(ln.box[1] for ln in col) for col in columns]
    return max(tops) - min(tops) <= 2.5 * unit


def _is_table(columns: list[list[Line]], unit: float) -> bool:
    """Neighbouring pieces whose lines sit on shared rows are cells of one table (or a
    label | value form), even when one column runs longer (a total or footer below)."""
    for left, right in itertools.pairwise(columns):
        small, big = sorted((left, right), key=len)
        aligned = sum(any(abs(a.center_y - b.center_y) < 0.3 * unit for b in big) for a in small)
        if aligned < 0.7 * len(small):
            return False
    return True


def _same_block(prev: list[Line], row: list[Line], unit: float) -> bool:
    gap = min(ln.box[1] for ln in row) - max(ln.box[3] for ln in prev)
    left = max(min(ln.box[0] for ln in prev), min(ln.box[0] for ln in row))
    right = min(max(ln.box[2] for ln in prev), max(ln.box[2] for ln in row))
    return gap < 0.9 * unit and right > left
