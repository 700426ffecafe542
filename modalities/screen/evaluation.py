"""Scoring OCR and field extraction: character error rate and field precision/recall.

Normalisation (as ../shared/realdata/README.md asks): NFKC (full/half width), case-folded,
whitespace and punctuation removed. On the project's rendered screens the error rate is
order-independent: each known text item is compared with the OCR lines whose centres fall in
its box, and OCR text outside every item counts as insertions.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.evaluation import edit_distance
from models.base import OcrLine

MAX_META_BYTES = 1_000_000

# Realdata OCR references (../shared/realdata/README.md): file -> (reference, how to score).
# "all": the whole text; "first": the first line (top-to-bottom); "word": the best-matching line
# or word (the reference is one word box of the source's word-level test).
REALDATA_OCR: dict[str, tuple[str, str]] = {
    "ch_en_num.jpg": ("正品促销", "first"),
    "text_rec.jpg": ("韩国小馆", "all"),
    "text_cls.jpg": ("怪我咯", "all"),
    "en_rec.jpg": ("To facilitate the shot type analysis in videos, we collect MovieShots, a large-scale",
                   "all"),
    "en.jpg": ("3", "word"),
    "test_letterbox_like.jpg": ("A：：取决于所使用的执行提供者，它可能没有完全支持模型中的所有操作。"
                                "回落到CPU操作可能会导致性能速度的下降。此外，即使一个操作是由CUDAeXecution",
                                "first"),
    "test_without_det.jpg": ("在中国作家协会第三届儿童文学", "all"),
    "issue_170.png": ("TEST", "all"),
    "img_exif_orientation.jpg": ("我是中国人", "all"),
    "black_font_color_transparent.png": ("我是中国人", "all"),
    "return_word_debug.jpg": ("3F1", "word"),
    "latin.jpg": ("Alphabetum in mundo hodie frequentissie adhibitum est alphabetum Latinum.", "all"),
    "eslav.jpg": ("Славянские языки — большая языковая семья.", "all"),
}


def samples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "samples" / "screens"


def norm(text: str) -> str:
    out = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in out if not c.isspace() and not unicodedata.category(c).startswith("P"))


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = norm(reference), norm(hypothesis)
    return edit_distance(ref, hyp) / max(len(ref), 1)


def top_to_bottom(lines: Sequence[OcrLine]) -> list[OcrLine]:
    return sorted(lines, key=lambda ln: (min(p[1] for p in ln.box), min(p[0] for p in ln.box)))


def realdata_cer(reference: str, mode: str, lines: Sequence[OcrLine]) -> float:
    ordered = top_to_bottom(lines)
    if mode == "first":
        return cer(reference, ordered[0].text if ordered else "")
    if mode == "word":
        candidates = [w for ln in ordered for w in (ln.text, *ln.text.split())]
        return min((cer(reference, w) for w in candidates), default=1.0)
    return cer(reference, "".join(ln.text for ln in ordered))


@dataclass(frozen=True)
class Sample:
    name: str
    image: Path
    kind: str
    language: str
    items: tuple[tuple[str, tuple[float, float, float, float]], ...]
    fields: Mapping[str, Sequence[str]]


def load_samples(folder: Path | None = None) -> list[Sample]:
    out = []
    for meta_path in sorted((folder or samples_dir()).glob("*.json")):
        if meta_path.stat().st_size > MAX_META_BYTES:
            continue
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        items = tuple((str(it["text"]), tuple(float(v) for v in it["box"])) for it in meta["items"])
        out.append(Sample(meta_path.stem, meta_path.with_suffix(".png"), str(meta["kind"]),
                          str(meta["language"]), items, meta["fields"]))  # type: ignore[arg-type]
    return out


def item_cer(items: Iterable[tuple[str, tuple[float, ...]]], lines: Sequence[OcrLine]) -> tuple[int, int]:
    """(errors, reference characters) matching OCR lines to known text boxes by their centres."""
    used: set[int] = set()
    errors = total = 0
    for text, (left, top, right, bottom) in items:
        got = []
        for k, ln in enumerate(lines):
            cx = sum(p[0] for p in ln.box) / len(ln.box)
            cy = sum(p[1] for p in ln.box) / len(ln.box)
            if k not in used and left - 4 <= cx <= right + 4 and top - 6 <= cy <= bottom + 6:
                used.add(k)
                got.append((min(p[0] for p in ln.box), ln.text))
        hyp = "".join(t for _, t in sorted(got))
        errors += edit_distance(norm(text), norm(hyp))
        total += len(norm(text))
    errors += sum(len(norm(ln.text)) for k, ln in enumerate(lines) if k not in used)
    return errors, total


def field_scores(expected: Mapping[str, Sequence[str]], found: Iterable[tuple[str, str]]
                 ) -> tuple[int, int, int]:
    """(true positives, extracted, expected) over normalised (kind, value) pairs."""
    want = {(k, norm(v)) for k, values in expected.items() for v in values}
    got = {(k, norm(v)) for k, v in found}
    return len(want & got), len(got), len(want)
