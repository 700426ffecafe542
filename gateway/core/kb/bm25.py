"""Okapi BM25 over pre-tokenised passages, plus an IDF-weighted query coverage in 0..1.

BM25 ranks; coverage (the share of the query's IDF mass a passage contains) is comparable across
queries, so it is what the "no answer" threshold is applied to.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.text import BIGRAM


@dataclass(frozen=True)
class LexicalHit:
    index: int
    bm25: float
    coverage: float


class Bm25:
    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tf = [Counter(doc) for doc in documents]
        self._len = [len(doc) for doc in documents]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 1.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(documents)
        self._idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._unseen_idf = math.log(1.0 + (n + 0.5) / 0.5)  # a query word no passage contains

    def __len__(self) -> int:
        return len(self._tf)

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unseen_idf)

    def search(self, query: Sequence[str], candidates: Sequence[int] | None = None) -> list[LexicalHit]:
        terms = list(dict.fromkeys(query))
        if not terms:
            return []
        # Character bigrams no passage contains are cutting noise (发保 in 沙发保修), not meaning:
        # they do not count against coverage. Unknown words do.
        # Likewise unknown identifiers (an order number): the passage cannot be expected to hold them.
        total_idf = sum(self.idf(t) for t in terms
                        if t in self._idf or not (t.startswith(BIGRAM) or any(c.isdigit() for c in t)))
        if total_idf <= 0:
            return []
        hits = []
        for i in candidates if candidates is not None else range(len(self._tf)):
            tf, length = self._tf[i], self._len[i]
            score, matched = 0.0, 0.0
            for term in terms:
                f = tf.get(term)
                if not f:
                    continue
                idf = self._idf[term]
                score += idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self._avg))
                matched += idf
            if score > 0:
                hits.append(LexicalHit(i, score, min(1.0, matched / total_idf)))
        hits.sort(key=lambda h: h.bm25, reverse=True)
        return hits
