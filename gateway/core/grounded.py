"""The no-LLM responder: answers only with sentences quoted from the retrieved passages.

Lowest latency, nothing invented by construction; also the fallback when an LLM is slow or down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.kb.index import Hit
from gateway.core.text import split_sentences, tokenize

MAX_SENTENCES = 2


@dataclass(frozen=True)
class GroundedSentence:
    text: str
    source: str  # passage id


def select_sentences(query: str, hits: Sequence[Hit], max_sentences: int = MAX_SENTENCES
                     ) -> list[GroundedSentence]:
    """The best passage's sentences that share the most words with the query, in passage order.

    A FAQ answer or a short passage is quoted whole; a long section is reduced to the sentences
    that match (the first sentence when none does, since sections open with their rule).
    """
    if not hits:
        return []
    passage = hits[0].passage
    sentences = split_sentences(passage.text)
    if len(sentences) <= max_sentences:
        return [GroundedSentence(s, passage.id) for s in sentences]
    query_terms = set(tokenize(query)) | set(tokenize(passage.title))
    scored = []
    for i, sentence in enumerate(sentences):
        terms = set(tokenize(sentence))
        scored.append((len(terms & query_terms) / (1 + len(terms)) ** 0.5, -i, i))
    scored.sort(reverse=True)
    best = sorted(i for score, _, i in scored[:max_sentences] if score > 0) or [0]
    return [GroundedSentence(sentences[i], passage.id) for i in best]
