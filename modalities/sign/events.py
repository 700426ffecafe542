"""Events of the sign decoder: captions as they are recognised, and the finished text turn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LetterRecognised:
    letter: str  # "A".."Z" or a digit
    confidence: float
    t_ms: int  # media time the letter was accepted


@dataclass(frozen=True)
class WordRecognised:
    word: str  # a spelled word ("CAT"), a number ("42") or a whole sign ("HELP")
    confidence: float
    t_ms: int


@dataclass(frozen=True)
class SignTurnReady:
    text: str  # words joined by spaces
    confidence: float  # the lowest word confidence
    tokens: tuple[str, ...]
    needs_readback: bool
    readback_prompt: str  # "Did you sign HELP CAT?" when needs_readback, else ""
    t_ms: int = 0


@dataclass(frozen=True)
class ReadbackResolved:
    """The caller answered a read-back: confirmed turns carry their text, refused ones are dropped."""

    confirmed: bool
    text: str
    t_ms: int


SignEvent = LetterRecognised | WordRecognised | SignTurnReady | ReadbackResolved
