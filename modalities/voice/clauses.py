"""Splits reply text into speakable pieces so speech can start before the whole reply is voiced.

Piper voices whole sentences; a long first sentence delays the first audio, so sentences longer
than `max_chars` are cut at clause punctuation (then at spaces) into pieces of natural length.
A Chinese reply's opening (`short_start`) is cut sooner: at its first ，、：； within 16 characters,
else at a word boundary 8 to 12 characters in (jieba), so the voice starts on a few words while the
rest is synthesised (a 28-character sentence is 5 to 7 s of speech; Kokoro needs about half that
in CPU time before the first sample).
"""

from __future__ import annotations

import re

from contracts.text import has_cjk

_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])")
_CLAUSE = re.compile(r"(?<=[,，、:：])\s*")
# A long first sentence with no comma is cut before one of these words (a natural breath point).
_CJK_BREAK = re.compile(r"[，、：；,]")
SHORT_START_BREAK = 16  # a comma this early is the natural first piece
SHORT_START_WORDS = (8, 12)  # else a word boundary this many characters in
_BREATH_WORDS = frozenset(
    "in on at with within for to from and but or so because after before "  # noqa: SIM905
    "until unless if when while which that by via".split()
)


def speakable_pieces(text: str, *, max_chars: int = 90, first_max_chars: int = 60,
                     short_start: bool = False) -> list[str]:
    pieces: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        if not sentence:
            continue
        if short_start and not pieces and has_cjk(sentence) and (cut := _chinese_opening(sentence)):
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        limit = first_max_chars if not pieces else max_chars
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        if not pieces and not _CLAUSE.search(sentence) and (cut := _breath_point(sentence, limit)):
            pieces.append(sentence[:cut].strip())  # the first words reach the caller sooner
            sentence = sentence[cut:].strip()
            limit = max_chars
            if len(sentence) <= limit:
                pieces.append(sentence)
                continue
        current = ""
        for clause in (c for c in _CLAUSE.split(sentence) if c):
            if current and len(current) + len(clause) > limit:
                pieces.append(current.strip())
                current = ""
                limit = max_chars
            current += clause if not current else (" " if _needs_space(current) else "") + clause
        while len(current) > limit * 2:  # a clause with no punctuation at all: cut at a space
            cut = current.rfind(" ", 0, limit) if " " in current[:limit] else limit
            pieces.append(current[:cut].strip())
            current = current[cut:].strip()
        if current.strip():
            pieces.append(current.strip())
    return pieces


def warm() -> None:
    """Loads jieba's dictionary now (blocking, about 0.6 s), not in a caller's first long Chinese reply."""
    import jieba

    jieba.initialize()


def _chinese_opening(sentence: str) -> int | None:
    """Where a Chinese sentence's first short piece ends: after an early comma, else at a word
    boundary 8 to 12 characters in that splits no number or Latin word; None when it is short."""
    low, high = SHORT_START_WORDS
    if len(sentence) <= high + 4:
        return None  # short already: cutting it saves little and sounds choppy
    for m in _CJK_BREAK.finditer(sentence, 0, SHORT_START_BREAK + 1):
        if m.start() >= 4:
            return m.end()
    import jieba  # lazy: only Chinese replies need it (a base dependency)

    best, at = None, 0
    for word in jieba.cut(sentence[:high + 8]):
        at += len(word)
        if at > high:
            break
        if at < low - 2 or (_joined(sentence[at - 1]) and _joined(sentence[at])):
            continue
        if sentence[at].isdigit():
            return at  # a number starts a phrase ("...退货后 | 2个工作日内"): cut before it
        if at >= low:
            best = at
    return best


def _joined(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in ".,:-%/")


def _breath_point(sentence: str, limit: int) -> int | None:
    """Index of the space before the last breath word within `limit` characters (not too early)."""
    best = None
    for match in re.finditer(r" (\w+)", sentence[:limit]):
        if match.group(1).lower() in _BREATH_WORDS and match.start() >= limit // 3:
            best = match.start()
    return best


def _needs_space(current: str) -> bool:
    return bool(current) and current[-1].isascii() and not current.endswith(" ")
