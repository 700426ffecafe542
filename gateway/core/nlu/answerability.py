"""Does the best passage answer the question? A knowledge-base answer only when its meaning agrees.

Lexical overlap alone quotes "We accept Visa, Mastercard, American Express" to "ask not what your
country can do for you" (one shared word); the sentence-embedding cosine of that pair is about 0.1.
The verdict, in order:
- the classifier found no intent (out of scope): answer only when the passage agrees clearly
  (cosine >= min_semantic + OOS_EXTRA), else say it is outside what the assistant knows;
- the passage agrees (cosine >= min_semantic; a follow-up, searched with the last topic, a little
  less; a passage of the intent's own topics sharing the caller's words, a little less): answer,
  unless a passage of another topic is as close (MARGIN) and the agreement is marginal: then ask
  which of the two the caller means;
- it agrees only somewhat and two topics are near: ask which one;
- otherwise: no answer, offer a person.
Swap this function to put a reranker in its place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.kb.index import Hit
from gateway.core.nlu.understand import Reading

OOS_EXTRA = 0.25  # out of scope: the passage must agree this much more
FOLLOWUP_SLACK = 0.08  # a follow-up is searched with the last topic, its own words are few
TOPIC_SLACK = 0.08  # a passage of the intent's own topics that shares the caller's words
TOPIC_LEXICAL = 0.35
CLARIFY_FLOOR = 0.1  # below this cosine a topic is not worth naming
MARGIN = 0.03


@dataclass(frozen=True)
class Verdict:
    kind: str  # "answer" | "clarify" | "out-of-scope" | "no-answer"
    hits: tuple[Hit, ...] = ()
    topics: tuple[str, ...] = ()  # for "clarify": the two closest topics


def judge(hits: Sequence[Hit], reading: Reading | None, min_semantic: float, *, followup: bool = False,
          topics: tuple[str, ...] = ()) -> Verdict:
    """topics: the documents the caller's intent routes to."""
    if reading is None or reading.vector is None:  # no embeddings: retrieval's own threshold only
        return Verdict("answer", tuple(hits)) if hits else Verdict("no-answer")
    out_of_scope = reading.route is None
    if not hits:
        return Verdict("out-of-scope" if out_of_scope else "no-answer")
    top = hits[0]
    if out_of_scope:
        agreed = top.semantic >= min_semantic + OOS_EXTRA
        return Verdict("answer", tuple(hits)) if agreed else Verdict("out-of-scope")
    need = min_semantic - (FOLLOWUP_SLACK if followup else 0.0)
    in_topic = top.passage.doc in topics and top.lexical >= TOPIC_LEXICAL
    if top.semantic >= need or (in_topic and top.semantic >= need - TOPIC_SLACK):
        rival = next((h for h in hits[1:] if h.passage.doc != top.passage.doc), None)
        if rival is not None and top.score - rival.score < MARGIN and top.semantic < need + 0.05 \
                and rival.passage.title != top.passage.title:
            return Verdict("clarify", tuple(hits), (top.passage.title, rival.passage.title))
        return Verdict("answer", tuple(hits))
    titles = list(dict.fromkeys(h.passage.title for h in hits if h.semantic >= CLARIFY_FLOOR))
    if len(titles) >= 2 and top.semantic >= need - 0.1:
        return Verdict("clarify", tuple(hits), (titles[0], titles[1]))
    return Verdict("no-answer")


_THANKS = re.compile(r"\b(thanks?|thank you|cheers|appreciate)\b|谢|感谢|多谢")
_BYE = re.compile(r"\b(bye|goodbye|see you|that's all|that is all)\b|再见|拜拜|没别的")
_HELLO = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|howdy)\b|你好|您好|^喂|早上好|晚上好")
_BOT = re.compile(r"\b(robot|bot|human|real person|your name|who are you|machine)\b|机器人|真人|你叫|你是谁")


def smalltalk_key(text: str) -> str:
    """Which short conversational reply fits a greeting, thanks, goodbye or statement."""
    lowered = text.lower()
    for key, pattern in (("smalltalk-bye", _BYE), ("smalltalk-thanks", _THANKS), ("smalltalk-bot", _BOT),
                         ("smalltalk-hello", _HELLO)):
        if pattern.search(lowered):
            return key
    return "smalltalk"
