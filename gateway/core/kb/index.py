"""In-memory hybrid retrieval over the stored passages: BM25 (jieba for Chinese) + embeddings.

The fused score is 0..1: the IDF-weighted share of the query found in the passage, blended with
the embedding cosine when embeddings are on. Passages in the caller's language are preferred;
other languages are searched only when the caller's language has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.core.kb.bm25 import Bm25
from gateway.core.kb.documents import Passage
from gateway.core.text import base_language, tokenize
from models.base import Embedder

LEXICAL_WEIGHT = 0.5  # with embeddings; 1.0 without
MAX_QUERY_CHARS = 500
PREFER_BOOST = 0.15
COVERAGE_WEIGHT = 0.7


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused, 0..1
    lexical: float  # IDF-weighted query coverage, 0..1
    semantic: float  # cosine, 0 when embeddings are off


class KnowledgeIndex:
    def __init__(self, passages: Sequence[Passage], embeddings: npt.NDArray[np.float32] | None = None,
                 embedder: Embedder | None = None) -> None:
        self.passages = tuple(passages)
        self._tokens = [tokenize(p.search_text) for p in self.passages]
        self._bm25 = Bm25(self._tokens)
        self._by_language: dict[str, list[int]] = {}
        for i, p in enumerate(self.passages):
            self._by_language.setdefault(base_language(p.language), []).append(i)
        usable = embedder is not None and embeddings is not None and len(embeddings) == len(self.passages)
        self._embeddings = embeddings if usable else None
        self._embedder = embedder if usable else None

    @property
    def hybrid(self) -> bool:
        return self._embedder is not None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_language))

    def search(self, query: str, language: str, k: int = 3, prefer_docs: tuple[str, ...] = (),
               vector: npt.NDArray[np.float32] | None = None) -> list[Hit]:
        """Best passages for a query, highest fused score first (blocking: embeds the query).

        prefer_docs: documents the conversation is already about (a follow-up) get a small boost.
        vector: the query's embedding when the caller already has it (the classifier's reading).
        """
        query = query[:MAX_QUERY_CHARS]
        candidates = self._by_language.get(base_language(language)) if language else None
        if not candidates:
            candidates = list(range(len(self.passages)))
        lexical = {h.index: h for h in self._bm25.search(tokenize(query), candidates)}
        top_bm25 = max((h.bm25 for h in lexical.values()), default=1.0)
        semantic: dict[int, float] = {}
        if self._embedder is not None and self._embeddings is not None:
            q = vector if vector is not None else self._embedder.embed([query])[0]
            sims = self._embeddings[candidates] @ q
            semantic = {i: float(max(s, 0.0)) for i, s in zip(candidates, sims, strict=True)}
        hits = []
        for i in set(lexical) | set(semantic):
            # Coverage is comparable across queries; BM25 (relative to the best) breaks its ties
            # in favour of the passage that is about the matched words, not one that mentions them.
            lex = (COVERAGE_WEIGHT * lexical[i].coverage + (1 - COVERAGE_WEIGHT) * lexical[i].bm25 / top_bm25
                   if i in lexical else 0.0)
            sem = semantic.get(i, 0.0)
            score = LEXICAL_WEIGHT * lex + (1 - LEXICAL_WEIGHT) * sem if semantic else lex
            if self.passages[i].doc in prefer_docs:
                score = min(1.0, score + PREFER_BOOST)
            hits.append((score, lexical[i].bm25 if i in lexical else 0.0, i, lex, sem))
        hits.sort(reverse=True)
        return [Hit(self.passages[i], score, lex, sem) for score, _, i, lex, sem in hits[:k]]

    def get(self, passage_id: str) -> Passage | None:
        return next((p for p in self.passages if p.id == passage_id), None)
