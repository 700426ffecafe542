"""Splits reply text into speakable pieces so speech can start before the whole reply is voiced.

Piper voices whole sentences; a long first sentence delays the first audio, so sentences longer
than `max_chars` are cut at clause punctuation (then at spaces) into pieces of natural length.
"""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])")
_CLAUSE = re.compile(r"(?<=[,，、:：])\s*")
# A long first sentence with no comma is cut before one of these words (a natural breath point).
_BREATH_WORDS = frozenset(
    "in on at with within for to from and but or so because after before "  # noqa: SIM905
    "until unless if when while which that by via".split()
)


def speakable_pieces(text: str, *, max_chars: int = 90, first_max_chars: int = 60) -> list[str]:
    pieces: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        if not sentence:
            continue
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


def _breath_point(sentence: str, limit: int) -> int | None:
    """Index of the space before the last breath word within `limit` characters (not too early)."""
    best = None
    for match in re.finditer(r" (\w+)", sentence[:limit]):
        if match.group(1).lower() in _BREATH_WORDS and match.start() >= limit // 3:
            best = match.start()
    return best


def _needs_space(current: str) -> bool:
    return bool(current) and current[-1].isascii() and not current.endswith(" ")
