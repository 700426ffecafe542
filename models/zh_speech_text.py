"""Mandarin text to Kokoro phonemes: numbers read the way a Chinese agent says them, English kept.

- Digit runs that are identifiers (order, phone and card numbers: five digits or more, or digits
  joined to letters or hyphens, "MLH-123456", "400-820-1234") are read digit by digit (一二三...).
- Clock times "8:00", "22:30" become 八点 / 二十二点三十分.
- Everything else numeric goes through cn2an (amounts "5.99美元" 五点九九美元, dates
  "2026年12月31日" 二零二六年十二月三十一日, "50%" 百分之五十, ordinals 第一).
- Chinese runs become pinyin IPA with tone arrows (misaki's `ZHG2P`, the phoneme set Kokoro v1.0
  was trained with); Latin runs (PayPal, iPhone, MLH) get espeak-ng's US English IPA, so a product
  name in a Chinese sentence is said in English instead of being spelled out or skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from contracts.text import HAN

_DIGITS = "零一二三四五六七八九"
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:：]([0-5]\d)(?!\d)")
# An identifier: letters/digits joined by hyphens with at least one digit group, or a long run.
_IDENTIFIER = re.compile(r"[A-Za-z]*\d+(?:[-‐][A-Za-z0-9]+)+|[A-Za-z]+-?\d+|\d{5,}")
_CLAUSE = re.compile(r"(?<=[，。！？；：,!?;])")
_SCRIPT = re.compile(f"([{HAN}]+)|([A-Za-z][A-Za-z' ]*[A-Za-z]|[A-Za-z])|([^{HAN}A-Za-z]+)")
_PUNCT = str.maketrans({"，": ", ", "、": ", ", "。": ". ", "！": "! ", "？": "? ", "；": "; ", "：": ": ",
                        "（": " (", "）": ") ", "“": " “", "”": "” ", "-": " ", "‐": " "})
MAX_CLAUSE_CHARS = 120  # Kokoro takes at most 510 phonemes per call; a Chinese character is ~4


def _spell(match: re.Match[str]) -> str:
    # Digits one by one, separated so the letters around them stay English words.
    return re.sub(r"\d+", lambda m: " " + "".join(_DIGITS[int(d)] for d in m.group()) + " ", match.group())


def _clock(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    return f"{hour}点" + (f"{minute}分" if minute else "")


def normalise(text: str) -> str:
    """Chinese text with every number written as it should be read."""
    import cn2an  # lazy: only the Mandarin voice needs it

    text = _TIME.sub(_clock, text)
    text = _IDENTIFIER.sub(_spell, text)
    return str(cn2an.transform(text, "an2cn"))


def clauses(text: str) -> list[str]:
    """Clauses to synthesise one at a time (the first one is heard while the rest is computed)."""
    out: list[str] = []
    for piece in _CLAUSE.split(text):
        piece = piece.strip()
        while len(piece) > MAX_CLAUSE_CHARS:
            out.append(piece[:MAX_CLAUSE_CHARS])
            piece = piece[MAX_CLAUSE_CHARS:]
        if piece:
            out.append(piece)
    return out


class MandarinPhonemizer:
    """Normalised Chinese text (with English words in it) to a Kokoro phoneme string."""

    def __init__(self, english: Callable[[str], str]) -> None:
        from misaki.zh import ZHG2P  # lazy: pulls jieba and pypinyin

        self._zh = ZHG2P()
        self._english = english

    def __call__(self, text: str) -> str:
        parts: list[str] = []
        for han, latin, other in _SCRIPT.findall(normalise(text)):
            if han:
                parts.append(str(self._zh(han)[0]).strip())
            elif latin:
                parts.append(self._english(latin))
            elif other.strip():
                parts.append(other.translate(_PUNCT).strip())
        return re.sub(r"\s+", " ", " ".join(p for p in parts if p)).strip()
