"""The knowledge-gap list: questions the assistant could not answer, or answered to a "no",
clustered by meaning so whoever maintains the knowledge base sees what to write next.

Distinct wordings are embedded with the bundled multilingual USE (so "do you ship to Canada?" and
"加拿大能寄吗" can meet) and merged bottom-up, always the two closest clusters, until no pair's average
similarity (mean cosine over pairs of their questions) reaches `threshold` (average linkage).
Without an embedder, shared words (bag-of-words cosine) stand in. Clusters are ranked by how many
questions they hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.core.text import tokenize
from models.base import Embedder

EXAMPLES = 3
MAX_WORDINGS = 600  # distinct wordings clustered (the most frequent); the rest join their nearest
THRESHOLD = 0.5


@dataclass
class Gap:
    count: int = 0
    unanswered: int = 0  # the assistant had no answer
    unhelpful: int = 0  # answered, and the caller said it did not help
    wordings: dict[str, int] = field(default_factory=dict)

    @property
    def examples(self) -> list[str]:
        """Distinct wordings, most frequent first."""
        return [w for w, _ in sorted(self.wordings.items(), key=lambda kv: -kv[1])[:EXAMPLES]]


def cluster(questions: Sequence[tuple[str, bool]], embedder: Embedder | None, *,
            threshold: float = THRESHOLD) -> list[Gap]:
    """questions: (text, unanswered). Blocking (embeds)."""
    counts = Counter(text for text, _ in questions)
    if not counts:
        return []
    unique = [t for t, _ in counts.most_common()]
    vectors = embedder.embed(unique) if embedder is not None else _bag_of_words(unique)
    head = min(len(unique), MAX_WORDINGS)
    weights = np.array([counts[t] for t in unique[:head]], np.float32)
    members = _merge(vectors[:head], weights, threshold)
    centroids = np.stack([_unit(sum(vectors[i] * counts[unique[i]] for i in m)) for m in members])
    for i in range(head, len(unique)):  # rare wordings past the cap: nearest cluster, or their own
        sims = centroids @ vectors[i]
        best = int(np.argmax(sims))
        if sims[best] >= threshold:
            members[best].append(i)
        else:
            members.append([i])
    index = {t: i for i, t in enumerate(unique)}
    owner = {i: c for c, m in enumerate(members) for i in m}
    gaps = [Gap() for _ in members]
    for text, unanswered in questions:
        gap = gaps[owner[index[text]]]
        gap.count += 1
        gap.unanswered += int(unanswered)
        gap.unhelpful += int(not unanswered)
        gap.wordings[text] = gap.wordings.get(text, 0) + 1
    return sorted(gaps, key=lambda g: (-g.count, -g.unanswered))


def _merge(vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32],
           threshold: float) -> list[list[int]]:
    """Average linkage: two clusters' similarity is the mean cosine over all pairs of their
    questions (count-weighted), which a chain of near neighbours cannot inflate."""
    n = len(vectors)
    members: list[list[int] | None] = [[i] for i in range(n)]
    w = weights.astype(np.float64)
    sums = vectors.astype(np.float64) * w[:, None]
    sims = (sums @ sums.T) / np.outer(w, w)
    np.fill_diagonal(sims, -np.inf)
    alive = np.ones(n, bool)
    while alive.sum() > 1:
        i, j = divmod(int(np.argmax(sims)), n)
        if sims[i, j] < threshold:
            break
        merged, joined = members[i], members[j]
        assert merged is not None and joined is not None
        merged.extend(joined)
        members[j] = None
        alive[j] = False
        sums[i] += sums[j]
        w[i] += w[j]
        row = (sums @ sums[i]) / (w * w[i])
        row[~alive] = -np.inf
        row[i] = -np.inf
        sims[i, :], sims[:, i] = row, row
        sims[j, :], sims[:, j] = -np.inf, -np.inf
    return [m for m in members if m is not None]


def _unit(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.asarray(v, np.float64)
    return out / max(float(np.linalg.norm(out)), 1e-12)


def _bag_of_words(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    vocab: dict[str, int] = {}
    rows = [set(tokenize(t)) for t in texts]
    for row in rows:
        for token in row:
            vocab.setdefault(token, len(vocab))
    out = np.zeros((len(texts), max(len(vocab), 1)), np.float32)
    for i, row in enumerate(rows):
        for token in row:
            out[i, vocab[token]] = 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)
