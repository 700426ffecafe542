"""Error rates for evaluations and benchmarks: word error rate and character error rate.

Text is normalised first (case, punctuation, full/half width, traditional -> simplified is the
ASR adapter's job), as the real-data README asks: references are scored, never exact-matched.
`word_errors` / `char_errors` give the counts behind a rate, so that a run of many turns pools
its errors (sum of edits over sum of reference units) instead of averaging per-turn rates.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from contracts.text import HAN, KANA

_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)
_CJK = re.compile(f"[{KANA}{HAN}]")  # kana and Han


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return " ".join(_PUNCT.sub(" ", text).split())


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def written_in_characters(text: str) -> bool:
    """Chinese (or Japanese) text: scored by character (CER); anything else by word (WER)."""
    return _CJK.search(text) is not None


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) after normalisation."""
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    return edit_distance(ref, hyp), len(ref)


def char_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(character edits, reference characters) after normalisation, spaces left out."""
    ref = normalise(reference).replace(" ", "")
    hyp = normalise(hypothesis).replace(" ", "")
    return edit_distance(list(ref), list(hyp)), len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    edits, words = word_errors(reference, hypothesis)
    return edits / max(1, words)


def char_error_rate(reference: str, hypothesis: str) -> float:
    edits, chars = char_errors(reference, hypothesis)
    return edits / max(1, chars)


def realdata_dir() -> Path | None:
    """../shared/realdata beside the project (or GATEWAY_REALDATA), None when absent."""
    env = os.environ.get("GATEWAY_REALDATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"
    return path if path.is_dir() else None


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
