"""The no-LLM responder: answers only with sentences quoted from the retrieved passages.

Lowest latency, nothing invented by construction; also the fallback when an LLM is slow or down.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.kb.index import Hit
from gateway.core.text import split_sentences, tokenize

MAX_SENTENCES = 2
# Question types: a "how long" question wants the sentence with a duration in it, and so on.
_CUES = (
    (
        re.compile(r"\bhow long\b|\bwhen\b|\bhow many days\b|多久|多长时间|几天|什么时候|多长"),
        re.compile(
            r"\d+\s*(?:to \d+ )?(?:business )?(?:days?|hours?|minutes?|years?)"
            r"|\d+\s*(?:天|小时|分钟|年)|工作日"
        ),
    ),
    (
        re.compile(r"\bhow much\b|\bcost|\bprice|\bfee|多少钱|运费|费用|价格|收费"),
        re.compile(r"\$\s?\d|\d+(?:\.\d+)?\s*美元|\bfree\b|免费|免运费"),
    ),
)


def without_question_type(text: str) -> str:
    """The topic of a question without its "how long"/"how much" words (for follow-ups)."""
    lowered = text.lower()
    for question, _ in _CUES:
        lowered = question.sub(" ", lowered)
    return lowered


@dataclass(frozen=True)
class GroundedSentence:
    text: str
    source: str  # passage id


def select_sentences(
    query: str, hits: Sequence[Hit], max_sentences: int = MAX_SENTENCES
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
    query_terms, title_terms = set(tokenize(query)), set(tokenize(passage.title))
    cues = [answer for question, answer in _CUES if question.search(query.lower())]
    scored = []
    for i, sentence in enumerate(sentences):
        terms = set(tokenize(sentence))
        overlap = 2 * len(terms & query_terms) + len(terms & title_terms)
        overlap += sum(3 for cue in cues if cue.search(sentence))
        scored.append((overlap / (1 + len(terms)) ** 0.5, -i, i))
    scored.sort(reverse=True)
    best = sorted(i for score, _, i in scored[:max_sentences] if score > 0) or [0]
    return [GroundedSentence(sentences[i], passage.id) for i in best]
