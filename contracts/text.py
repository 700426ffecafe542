"""Chinese characters: one definition for every layer (language guesses, turn-taking cues, reply
clauses, intent enrichment, error-rate scoring), so no two places disagree about a character."""

from __future__ import annotations

import re

# CJK Unified Ideographs, Extension A, Compatibility Ideographs.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
KANA = "\u3040-\u30ff"  # Japanese syllabaries: written in characters too (scored by CER)

_HAN = re.compile(f"[{HAN}]")


def has_cjk(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return _HAN.search(text) is not None


def is_cjk(char: str) -> bool:
    """True for one Chinese character (False for "" or anything longer)."""
    return len(char) == 1 and _HAN.match(char) is not None


# Whisper sometimes puts spaces between Chinese words (more so after spaced hotwords); Chinese
# text has none. Full-width punctuation counts as Chinese here.
_WIDE = f"[{HAN}\u3000-\u303f\uff00-\uffef]"
_CJK_GAP = re.compile(f"(?<={_WIDE})\\s+(?={_WIDE})")


def close_cjk_gaps(text: str) -> str:
    """"我 想 退货 。" -> "我想退货。"; spaces next to Latin words are kept ("我的 iPhone")."""
    return _CJK_GAP.sub("", text)
