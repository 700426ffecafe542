"""Sentiment per turn and the frustration rule: N consecutive negative turns hand over to a person.

English through VADER's compound score, Chinese through SnowNLP's positive probability rescaled to
-1..1, both nudged by a short list of unmistakable complaint words that the general-purpose models
under-rate in a service context. The engines load lazily, once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

NEGATIVE_THRESHOLD = -0.3
EN_ANGRY = ("useless", "ridiculous", "terrible", "awful", "worst", "angry", "furious", "fed up",
            "sick of", "waste of time", "unacceptable", "rubbish", "stupid", "scam", "disgusting")
ZH_ANGRY = ("垃圾", "气死", "太差", "差劲", "无语", "受够", "骗子", "浪费时间", "不能接受", "太离谱",
            "离谱", "愤怒", "生气", "烦死", "投诉你们", "什么破", "没用")
# Problem cues that make SnowNLP's negative verdict count in full.
ZH_PROBLEM = ("坏了", "没人管", "还没", "一直没", "不行", "失望", "怎么回事", "第三次", "第二次", "又",
              "不满意", "破损", "投诉")


class SentimentScorer:
    """score(text, language) -> -1 (very negative) .. 1 (very positive). Blocking, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vader: Any = None

    def _english(self, text: str) -> float:
        with self._lock:
            if self._vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                self._vader = SentimentIntensityAnalyzer()
            return float(self._vader.polarity_scores(text)["compound"])

    @staticmethod
    def _chinese(text: str) -> float:
        from snownlp import SnowNLP

        return 2.0 * float(SnowNLP(text).sentiments) - 1.0

    def warm(self) -> None:
        """Loads both engines (SnowNLP's models load on import, about 2 s)."""
        self.score("你好", "zh")
        self.score("hello", "en")

    def score(self, text: str, language: str) -> float:
        text = text[:1000]
        if not text.strip():
            return 0.0
        lowered = text.lower()
        if language == "zh":
            base = self._chinese(text)
            # SnowNLP is trained on product reviews: plain questions ("退款多久到账") can score
            # strongly negative, so its verdict only counts in full next to a problem cue.
            angry = sum(w in text for w in ZH_ANGRY)
            if not angry and not any(w in text for w in ZH_PROBLEM):
                base *= 0.25
        else:
            base = self._english(text)
            angry = sum(w in lowered for w in EN_ANGRY)
        return max(-1.0, min(1.0, base - 0.4 * angry))


def frustrated(trend: Sequence[float], turns: int, threshold: float = NEGATIVE_THRESHOLD) -> bool:
    """True when the last `turns` sentiment scores are all at or below the threshold."""
    return len(trend) >= turns and all(s <= threshold for s in trend[-turns:])
