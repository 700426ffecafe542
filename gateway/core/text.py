"""Language guessing, tokenisation for retrieval (jieba for Chinese) and clause splitting for TTS.

Pure functions; jieba is imported lazily (its dictionary takes about a second to load, once).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache

from contracts.text import HAN, has_cjk

_CJK = re.compile(f"[{HAN}]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
# A full stop ends a sentence only before whitespace, so "$5.99" and "8:00" stay whole.
_SENTENCE_END = re.compile(r"(?<=[。！？])\s*|(?<=[.!?])\s+")
_CLAUSE_BREAK = re.compile(r"(?<=[，、；])\s*|(?<=[,;:：])\s+")  # "5,000" is one number

_EN_STOPWORDS = """
a an the and or but if of to in on at for from by with about as is are was were be been being am do does
did have has had i me my we our you your it its this that these those there here can could would should
will shall may might must what which who whom when where why how please hi hello thanks thank just so
than then too very also any some all not no yes ok okay want like get got need im i'm id i'd
"""
_ZH_STOPWORDS = """
我 你 您 他 她 它 我们 你们 的 了 吗 呢 吧 啊 呀 是 在 有 和 与 或 就 都 也 还 要 想 请问 请 一下 这个 那个
怎么 怎么样 怎么办 为什么 什么 如何 可以 能 能不能 会 个 把 被 给 对 从 到 让 一个 现在 已经 自己
你好 谢谢 麻烦
"""

EN_STOPWORDS = frozenset(_EN_STOPWORDS.split())
ZH_STOPWORDS = frozenset(_ZH_STOPWORDS.split())

BIGRAM = "~"  # prefix of character-bigram terms (they only help recall; see kb.bm25)

# Light English suffix folding so "returns"/"returned"/"returning" meet "return".
_SUFFIXES = ("ing", "ed", "es", "s")


def guess_language(text: str, default: str = "en") -> str:
    """'zh' when a fair share of the letters are Chinese characters, else 'en' (or default)."""
    cjk = len(_CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if cjk == 0 and latin == 0:
        return default
    return "zh" if cjk * 3 >= latin else "en"


def base_language(language: str) -> str:
    """'zh-CN' -> 'zh', 'EN' -> 'en'."""
    return language.split("-")[0].split("_")[0].lower()


def _fold(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word  # charge/charged/charges


class _Jieba:
    """One lazily loaded jieba tokenizer per process, loaded behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cut: Callable[[str], list[str]] | None = None

    def cut(self, text: str) -> list[str]:
        if self._cut is None:
            with self._lock:
                if self._cut is None:
                    import logging

                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._cut = tokenizer.lcut_for_search
        return self._cut(text)


@lru_cache(maxsize=1)
def _jieba() -> _Jieba:
    return _Jieba()


def tokenize(text: str) -> list[str]:
    """Retrieval terms: folded English words and jieba search-mode Chinese words, no stopwords.

    Mixed text is handled per script, so "MLH-123456 退货" keeps both the order number and 退货.
    """
    lowered = text.lower()
    terms = [_fold(w) for w in _LATIN_WORD.findall(lowered) if w not in EN_STOPWORDS]
    if has_cjk(lowered):
        for run in re.findall(f"[{HAN}]+", lowered):
            words = [w for w in _jieba().cut(run) if w not in ZH_STOPWORDS]
            terms.extend(words)
            # Character bigrams as well: jieba may cut 保修期 whole where the caller says 保修.
            seen = set(words)
            terms.extend(
                BIGRAM + b
                for i in range(len(run) - 1)
                if (b := run[i : i + 2]) not in seen and b[0] not in ZH_STOPWORDS and b[1] not in ZH_STOPWORDS
            )
    return terms


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def split_clauses(text: str, max_chars: int = 90) -> list[str]:
    """Sentences, with long ones cut at commas so speech synthesis can start early."""
    clauses: list[str] = []
    for sentence in split_sentences(text):
        limit = max_chars // 3 if has_cjk(sentence) else max_chars
        if len(sentence) <= limit:
            clauses.append(sentence)
            continue
        current = ""
        for part in _CLAUSE_BREAK.split(sentence):
            if current and len(current) + len(part) > limit:
                clauses.append(current.strip())
                current = ""
            current = f"{current} {part}" if current and not has_cjk(part) else current + part
        if current.strip():
            clauses.append(current.strip())
    return clauses
