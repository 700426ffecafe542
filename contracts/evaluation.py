"""Error rates for evaluations and benchmarks: word error rate and character error rate.

Text is normalised first (case, punctuation, full/half width, traditional -> simplified is the
ASR adapter's job), as the real-data README asks: references are scored, never exact-matched.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)


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


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    return edit_distance(ref, hyp) / max(1, len(ref))


def char_error_rate(reference: str, hypothesis: str) -> float:
    ref = normalise(reference).replace(" ", "")
    hyp = normalise(hypothesis).replace(" ", "")
    return edit_distance(list(ref), list(hyp)) / max(1, len(ref))


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
